"""GLF-CR network: the official parameter count (meta device), the pure-PyTorch dynamic
filter against torch's grouped convolution, shifted-window masks, and a tiny variant's
forward/backward on CPU. Output parity with the official network (shared weights,
max |diff| 4.8e-7 at 128 px) is checked outside the repository (configs/glf_cr/README.md).
"""
import pytest
import torch
import torch.nn.functional as F

from crbench.models.reference.glf_cr import (GLFCR, dynamic_filter, from_windows,
                                             shifted_window_mask, to_windows)
from crbench.registry import MODELS

from helpers import n_params

TINY = dict(opt_channels=13, sar_channels=2, channels=8, growth=4, num_blocks=2, num_layers=2,
            num_heads=2, window_size=4, kernel_size=3, train_size=16)


def test_official_parameter_count():
    """xufangchn/GLF-CR RDN_residual_CR: 14,827,373 (EMRDM Table 6: 14.827M)."""
    with torch.device('meta'):
        net = GLFCR()
    assert n_params(net) == 14_827_373
    assert MODELS.get('GLFCR') is GLFCR


def test_dynamic_filter_equals_grouped_conv_for_constant_kernels():
    """With the same kernel at every pixel, per-pixel filtering is a depthwise
    convolution (cross-correlation) of the replicate-padded input."""
    torch.manual_seed(0)
    b, c, h, w, k = 2, 3, 9, 7, 5
    x = torch.randn(b, c, h, w)
    taps = torch.randn(c, k, k)
    kernels = taps.reshape(1, c * k * k, 1, 1).expand(b, -1, h, w).contiguous()
    ref = F.conv2d(F.pad(x, (2, 2, 2, 2), mode='replicate'), taps.unsqueeze(1), groups=c)
    torch.testing.assert_close(dynamic_filter(x, kernels, k), ref, rtol=1e-5, atol=1e-5)


def test_dynamic_filter_is_per_pixel():
    """A kernel that is a one-hot tap at one pixel only moves that pixel's value."""
    x = torch.arange(30.).view(1, 1, 5, 6)
    kernels = torch.zeros(1, 9, 5, 6)
    kernels[0, 4] = 1                      # centre tap everywhere: identity
    kernels[0, 4, 2, 3], kernels[0, 1, 2, 3] = 0, 1   # pixel (2, 3) reads its upper neighbour
    out = dynamic_filter(x, kernels, 3)
    expected = x.clone()
    expected[0, 0, 2, 3] = x[0, 0, 1, 3]
    assert torch.equal(out, expected)
    with pytest.raises(ValueError, match='do not fit'):
        dynamic_filter(x, torch.zeros(1, 8, 5, 6), 3)


def test_windows_round_trip_and_shift_mask():
    x = torch.randn(2, 8, 12, 3)
    win = to_windows(x, 4)
    assert win.shape == (2 * 6, 16, 3)
    assert torch.equal(win[1].view(4, 4, 3), x[0, :4, 4:8])  # row-major window order
    assert torch.equal(from_windows(win, 4, 8, 12), x)
    mask = shifted_window_mask(8, 12, 4, 2)
    assert mask.shape == (6, 16, 16) and set(mask.unique().tolist()) <= {0.0, -100.0}
    # windows away from the last row/column of windows hold one region: nothing masked
    assert (mask[0] == 0).all() and (mask[1] == 0).all()
    # the bottom-right window holds four regions: token 0 (top-left) and token 15
    # (bottom-right) come from different places of the image
    assert mask[5, 0, 15] == -100 and mask[5, 0, 0] == 0


def tiny_inputs(size=16, batch=2):
    torch.manual_seed(1)
    return torch.rand(batch, 13, size, size), torch.rand(batch, 2, size, size)


def test_tiny_forward_is_residual_and_size_agnostic():
    net = GLFCR(**TINY).eval()
    cloudy, sar = tiny_inputs()
    out = net(torch.cat([cloudy, sar], 1))
    assert out.shape == cloudy.shape
    torch.nn.init.zeros_(net.tail[2].weight)
    torch.nn.init.zeros_(net.tail[2].bias)
    assert torch.equal(net(torch.cat([cloudy, sar], 1)), cloudy)   # output = cloudy + residual
    # masks are built per input size: trained on 16 px, runs on 32 px
    cloudy, sar = tiny_inputs(32, 1)
    assert net(torch.cat([cloudy, sar], 1)).shape == (1, 13, 32, 32)


def test_sar_changes_the_output():
    net = GLFCR(**TINY).eval()
    cloudy, sar = tiny_inputs()
    a = net(torch.cat([cloudy, sar], 1))
    b = net(torch.cat([cloudy, torch.zeros_like(sar)], 1))
    assert (a - b).abs().max() > 1e-4


def test_window_clamped_to_small_training_crops():
    """As officially: a window not smaller than the half-resolution crop becomes the
    whole map and is never shifted."""
    net = GLFCR(**dict(TINY, window_size=8, train_size=16))
    assert net.window_size == 8 and all(l.shift == 0 for b in net.blocks for l in b.layers)
    net = GLFCR(**dict(TINY, window_size=4, train_size=16))
    assert [l.shift for l in net.blocks[0].layers] == [0, 2]


def test_every_parameter_but_the_last_sar_update_gets_a_gradient():
    """The last local fusion's SAR update feeds nothing (officially too): its gate is the
    only dead parameter (9,312 at the official size)."""
    net = GLFCR(**dict(TINY, drop_path_rate=0.0)).train()
    cloudy, sar = tiny_inputs()
    net(torch.cat([cloudy, sar], 1)).abs().mean().backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == ['fusions.1.opt_gate.weight', 'fusions.1.opt_gate.bias']


def test_bad_inputs_are_named():
    net = GLFCR(**TINY)
    with pytest.raises(ValueError, match='13 optical bands, then the 2 SAR'):
        net(torch.rand(1, 13, 16, 16))
    with pytest.raises(ValueError, match='divisible by 8'):
        net(torch.rand(1, 15, 20, 16))
    with pytest.raises(ValueError, match='odd'):
        GLFCR(**dict(TINY, kernel_size=4))
