"""Reference model zoo: MSDA-CR, SpA-GAN, AMGAN-CR, CVAE and their discriminators.

Parameter counts are the official ones (docs/models.md §0), counted on the meta
device; forwards run on CPU on small inputs.
"""
import pytest
import torch

from crbench.models.reference.amgan_cr import AMGANCRGenerator
from crbench.models.reference.cvae import CVAE
from crbench.models.reference.msda_cr import DenseStack, MSDACRDiscriminator, MSDACRGenerator
from crbench.models.reference.spagan import PatchDiscriminator, SpAGANGenerator
from crbench.registry import MODELS

from helpers import n_params


COUNTS = [
    (MSDACRGenerator, dict(in_channels=4), 3_908_003),
    (MSDACRGenerator, dict(in_channels=3), 3_907_714),
    (MSDACRDiscriminator, dict(in_channels=4), 6_029_057),
    (SpAGANGenerator, dict(in_channels=4), 219_876),
    (SpAGANGenerator, dict(in_channels=3), 219_300),
    (PatchDiscriminator, dict(in_channels=4), 2_763_969),
    (AMGANCRGenerator, dict(in_channels=4), 239_425),
    (AMGANCRGenerator, dict(in_channels=3), 238_273),
    (CVAE, dict(in_channels=4), 15_690_464),
    (CVAE, dict(in_channels=3), 15_418_847),
    (CVAE, dict(in_channels=4, official_4band_param_layout=True), 15_552_224),
]


@pytest.mark.parametrize('cls,kwargs,expected', COUNTS,
                         ids=[f'{c.__name__}-{k}' for c, k, _ in COUNTS])
def test_official_parameter_counts(cls, kwargs, expected):
    with torch.device('meta'):
        model = cls(**kwargs)
    assert n_params(model) == expected


DEAD = [(MSDACRGenerator, 1_004_249), (SpAGANGenerator, 16_228), (AMGANCRGenerator, 11_264)]


@pytest.mark.parametrize('cls,expected', DEAD, ids=[c.__name__ for c, _ in DEAD])
def test_documented_dead_parameter_count(cls, expected):
    with torch.device('meta'):
        model = cls(in_channels=4)
    params = dict(model.named_parameters())
    assert sum(params[n].numel() for n in model.dead_parameter_names()) == expected


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize('cls', [MSDACRGenerator, SpAGANGenerator, AMGANCRGenerator],
                         ids=lambda c: c.__name__)
def test_dead_parameters_get_no_gradient_and_all_others_do(cls):
    torch.manual_seed(0)
    model = cls(in_channels=4)
    out = model(torch.rand(1, 4, 32, 32))
    sum(t.square().mean() for t in _outputs(out)).backward()
    no_grad = {n for n, p in model.named_parameters() if p.grad is None}
    assert no_grad == set(model.dead_parameter_names())


def test_cvae_has_no_dead_parameters():
    torch.manual_seed(0)
    model = CVAE(in_channels=4, image_size=32)
    (mu, logvar), y = model(torch.rand(2, 4, 32, 32))
    (y.square().mean() + mu.square().mean() + logvar.square().mean()).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_generator_outputs():
    x = torch.rand(1, 4, 32, 32)
    att, img = SpAGANGenerator(4)(x)
    assert att.shape == (1, 1, 32, 32) and img.shape == (1, 4, 32, 32)
    assert 0 <= att.min() and att.max() <= 1
    mask, img = AMGANCRGenerator(4)(x)
    assert mask.shape == (1, 1, 32, 32) and img.shape == (1, 4, 32, 32)
    img = MSDACRGenerator(4)(x)
    assert torch.is_tensor(img) and img.shape == (1, 4, 32, 32)
    assert 0 <= img.min() and img.max() <= 1


def test_msda_accepts_odd_sizes():
    with torch.no_grad():
        assert MSDACRGenerator(4)(torch.rand(1, 4, 37, 45)).shape == (1, 4, 37, 45)



@pytest.mark.parametrize('batch,channels_last', [(1, False), (3, False), (2, True)])
def test_dense_stack_equals_repeated_concatenation(batch, channels_last):
    """The one-buffer dense stack (inference) computes exactly cat([x, relu(conv(x))]) layer
    by layer, for contiguous slices (batch 1), strided ones (batch > 1) and channels-last."""
    torch.manual_seed(0)
    stack = DenseStack(channels=6, num_layers=3, growth=4)
    x = torch.randn(batch, 6, 9, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = x
    for conv in stack.layers:
        expected = torch.cat([expected, torch.relu(conv(expected))], dim=1)
    with torch.no_grad():
        out = stack(x)
    assert out.shape == (batch, 18, 9, 7) and torch.equal(out, expected)
    assert torch.equal(stack(x), expected)  # with autograd (training)
    with torch.autocast('cpu', dtype=torch.bfloat16):  # the autocast inference switch
        expected = x
        for conv in stack.layers:
            expected = torch.cat([expected, torch.relu(conv(expected))], dim=1)
        with torch.no_grad():
            out = stack(x)
    assert out.dtype == x.dtype and torch.equal(out, expected)

@pytest.mark.parametrize('bands', [3, 4, 13])
def test_any_band_count(bands):
    x = torch.rand(2, bands, 32, 32)
    with torch.no_grad():
        assert MSDACRGenerator(bands)(x).shape == x.shape
        assert SpAGANGenerator(bands)(x)[1].shape == x.shape
        assert AMGANCRGenerator(bands)(x)[1].shape == x.shape
        assert PatchDiscriminator(bands)(x, x).shape == (2, 1, 2, 2)
        assert MSDACRDiscriminator(bands)(x).shape == (2, 256)
        (mu, _), y = CVAE(bands, image_size=32)(x)
        assert y.shape == x.shape and mu.shape == (2, 50)


def test_discriminator_outputs():
    torch.manual_seed(0)
    x, y = torch.rand(1, 4, 256, 256), torch.rand(1, 4, 256, 256)
    d = PatchDiscriminator(4)
    with torch.no_grad():
        out = d(torch.cat([x, y], 1))
        assert out.shape == (1, 1, 16, 16)
        torch.testing.assert_close(d(x, y), out)
        # Flattened output: its length depends on the input size.
        critic = MSDACRDiscriminator(4)
        assert critic(x).shape == (1, 4096)
        assert critic(torch.rand(2, 4, 64, 64)).shape == (2, 256)
        assert critic(torch.rand(1, 4, 100, 70)).shape == (1, 256 * 2 * 2)


def test_cvae_full_size_forward():
    torch.manual_seed(0)
    model = CVAE(in_channels=4)
    x = torch.rand(1, 4, 256, 256) * 2 - 1
    with torch.no_grad():
        (mu, logvar), y = model(x, generator=torch.Generator().manual_seed(1))
        (_, _), y_same = model(x, generator=torch.Generator().manual_seed(1))
    assert mu.shape == logvar.shape == (1, 50)
    assert y.shape == (1, 4, 256, 256)
    torch.testing.assert_close(y, y_same)
    # y = x + tanh(...), so the residual is bounded by 1.
    assert (y - x).abs().max() <= 1


def test_cvae_sampling():
    torch.manual_seed(0)
    model = CVAE(in_channels=4, image_size=32)
    x = torch.rand(1, 4, 32, 32)
    with torch.no_grad():
        a, b = model(x)[1], model(x)[1]
        assert not torch.equal(a, b), 'the official CVAE samples z on every forward'
        assert torch.equal(model(x, sample=False)[1], model(x, sample=False)[1])


def test_cvae_errors():
    model = CVAE(in_channels=4, image_size=32)
    with pytest.raises(ValueError, match='32×32'):
        model(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match='4 input channels'):
        model(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match='multiple of 16'):
        CVAE(in_channels=4, image_size=40)
    with torch.device('meta'):
        official = CVAE(in_channels=4, official_4band_param_layout=True)
    with pytest.raises(RuntimeError, match='official parameter count'):
        official(torch.rand(1, 4, 256, 256, device='meta'))
    with pytest.raises(ValueError, match='in_channels=4 only'):
        CVAE(in_channels=3, official_4band_param_layout=True)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match='built for 4 input channels'):
        SpAGANGenerator(4)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match='B×C×H×W'):
        AMGANCRGenerator(4)(torch.rand(4, 16, 16))
    with pytest.raises(ValueError, match='concatenated'):
        PatchDiscriminator(4)(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match='H, W >= 16'):
        PatchDiscriminator(4)(torch.rand(1, 8, 8, 8))
    with pytest.raises(TypeError, match='floating-point'):
        MSDACRGenerator(4)(torch.zeros(1, 4, 16, 16, dtype=torch.uint8))


def test_registered():
    with torch.device('meta'):
        for name in ('MSDACRGenerator', 'MSDACRDiscriminator', 'SpAGANGenerator',
                     'PatchDiscriminator', 'AMGANCRGenerator', 'CVAE'):
            assert MODELS.build(dict(type=name, in_channels=3)).__class__.__name__ == name
