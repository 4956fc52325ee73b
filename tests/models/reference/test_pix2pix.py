"""Pix2Pix networks: parameter counts of the reference build, shapes, the U-Net's skips."""
import pytest
import torch

from crbench.models.reference.pix2pix import Pix2PixPatchDiscriminator, Pix2PixUNetGenerator


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_equal_the_reference_build():
    # junyanz/pytorch-CycleGAN-and-pix2pix define_G(.., 'unet_256', norm='batch') and
    # define_D(.., 'basic', norm='batch'), built on the meta device (configs/pix2pix/README.md)
    with torch.device('meta'):
        assert count(Pix2PixUNetGenerator(3, 3)) == 54_413_955    # the well-known 54.4M
        assert count(Pix2PixPatchDiscriminator(6)) == 2_768_705
        assert count(Pix2PixUNetGenerator(12, 3)) == 54_423_171   # Sen2_MTC_New, 3 dates
        assert count(Pix2PixPatchDiscriminator(15)) == 2_777_921


def test_shapes_and_patch_map():
    torch.manual_seed(0)
    g = Pix2PixUNetGenerator(12, 3, ngf=4, num_downs=6).eval()
    d = Pix2PixPatchDiscriminator(15, ndf=4).eval()
    x = torch.randn(2, 12, 64, 64)
    y = g(x)
    assert y.shape == (2, 3, 64, 64) and y.abs().max() <= 1
    assert d(x, y).shape == (2, 1, 6, 6)  # 64 px: 32, 16, 8 (stride 2), 7, 6 (stride 1)
    with pytest.raises(ValueError, match='multiples of 64'):
        g(torch.randn(1, 12, 48, 48))
    with pytest.raises(ValueError, match='condition'):
        d(x, torch.randn(2, 4, 64, 64))


def test_skips_carry_the_activated_features():
    """The reference applies LeakyReLU in place before its skip: the decoder sees
    LeakyReLU(encoder features). Flipping the sign of negative inputs to the second level
    changes the output only through that activation."""
    torch.manual_seed(0)
    g = Pix2PixUNetGenerator(3, 3, ngf=2, num_downs=5).eval()
    level = g.net.inner_level
    seen = {}
    level.register_forward_hook(lambda m, i, o: seen.update(skip=o[:, :i[0].shape[1]],
                                                            inp=i[0]))
    g(torch.randn(1, 3, 32, 32))
    assert torch.allclose(seen['skip'], torch.nn.functional.leaky_relu(seen['inp'], 0.2))


def test_reference_initialisation():
    torch.manual_seed(0)
    g = Pix2PixUNetGenerator(3, 3, ngf=16)
    w = g.net.inner_level.down.weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    assert torch.all(g.net.up.bias == 0)
