"""Losses of the reference zoo: GAN terms, gradient penalty, KL, CVAE edge, VGG perceptual."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crbench.models.losses.gan import (KLDivergenceLoss, LaplacianEdgeL1Loss, LogisticGANLoss,
                                       WGANCriticLoss, WGANGeneratorLoss, WGANGradientPenalty)
from crbench.models.losses.perceptual import VGGPerceptualLoss, _vgg16_to_relu3_3
from crbench.registry import MODELS


def _critic():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.Tanh(),
                         nn.Conv2d(8, 2, 3, stride=2, padding=1), nn.Flatten())


@pytest.mark.parametrize('interp', ['normal', 'uniform'])
def test_gradient_penalty_matches_manual_autograd(interp):
    critic = _critic()
    real, fake = torch.rand(3, 4, 8, 8), torch.rand(3, 4, 8, 8)
    gp = WGANGradientPenalty(weight=10.0, interp=interp)
    value = gp(critic, real, fake, generator=torch.Generator().manual_seed(7))

    g = torch.Generator().manual_seed(7)
    draw = torch.randn if interp == 'normal' else torch.rand
    alpha = draw(3, 1, 1, 1, generator=g)
    if interp == 'uniform':
        assert ((0 <= alpha) & (alpha < 1)).all()
    manual = 0.0
    for i in range(3):  # one sample at a time: no batching trick can hide an error
        x = (alpha[i] * real[i:i + 1] + (1 - alpha[i]) * fake[i:i + 1]).requires_grad_(True)
        out = critic(x)
        grad, = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out))
        manual = manual + (grad.norm() - 1) ** 2
    torch.testing.assert_close(value, 10.0 * manual / 3)

    # The penalty must train the critic. Only the last bias is out of its reach:
    # it shifts D by a constant and so leaves the input gradient unchanged.
    value.backward()
    assert [n for n, p in critic.named_parameters() if p.grad is None] == ['2.bias']


def test_gradient_penalty_linear_critic_closed_form():
    # D(x) = <w, x>: the gradient is w everywhere, whatever alpha is.
    w = torch.randn(1, 2, 4, 4)
    gp = WGANGradientPenalty(weight=3.0)
    value = gp(lambda x: (x * w).flatten(1).sum(1), torch.rand(5, 2, 4, 4), torch.rand(5, 2, 4, 4))
    torch.testing.assert_close(value, 3.0 * (w.norm() - 1) ** 2)


def test_gradient_penalty_errors():
    with pytest.raises(ValueError, match="'normal'"):
        WGANGradientPenalty(interp='beta')
    with pytest.raises(ValueError, match='shapes must match'):
        WGANGradientPenalty()(_critic(), torch.rand(2, 4, 8, 8), torch.rand(1, 4, 8, 8))


def test_kl_against_closed_form():
    mu, logvar = torch.randn(4, 50), torch.randn(4, 50)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum()
    torch.testing.assert_close(KLDivergenceLoss()(mu, logvar), expected)
    torch.testing.assert_close(KLDivergenceLoss('batchmean')(mu, logvar), expected / 4)
    assert KLDivergenceLoss()(torch.zeros(2, 5), torch.zeros(2, 5)) == 0


def test_gan_terms():
    logits = torch.randn(2, 1, 4, 4)
    loss = LogisticGANLoss()
    torch.testing.assert_close(loss(logits, True), -F.logsigmoid(logits).mean())
    torch.testing.assert_close(loss(logits, False), -F.logsigmoid(-logits).mean())
    real, fake = torch.randn(2, 16), torch.randn(2, 16)
    torch.testing.assert_close(WGANGeneratorLoss()(fake), -fake.mean())
    torch.testing.assert_close(WGANCriticLoss()(real, fake), fake.mean() - real.mean())


def _manual_edge(x, y):
    k = torch.tensor([[-1., -1, -1], [-1, 8, -1], [-1, -1, -1]]).view(1, 1, 3, 3)
    per_band = [F.l1_loss(F.conv2d(x[:, c:c + 1], k, padding=1), F.conv2d(y[:, c:c + 1], k, padding=1))
                for c in range(x.shape[1])]
    return torch.stack(per_band)


def test_edge_l1_first3_vs_all():
    x, y = torch.rand(2, 4, 16, 16), torch.rand(2, 4, 16, 16)
    per_band = _manual_edge(x, y)
    torch.testing.assert_close(LaplacianEdgeL1Loss('first3')(x, y), per_band[:3].mean())
    torch.testing.assert_close(LaplacianEdgeL1Loss('all')(x, y), per_band.mean())
    # Official behaviour: a change in band 4 (NIR) is invisible to the edge term.
    y_nir = x.clone()
    y_nir[:, 3] = torch.rand(2, 16, 16)
    assert LaplacianEdgeL1Loss('first3')(x, y_nir) == 0
    assert LaplacianEdgeL1Loss('all')(x, y_nir) > 0
    with pytest.raises(ValueError, match="bands='all'"):
        LaplacianEdgeL1Loss('first3')(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8))


def test_vgg_slice_matches_torchvision_layout():
    from torchvision.models import vgg16
    with torch.device('meta'):
        ref = vgg16(weights=None).features[:16]
        ours = _vgg16_to_relu3_3()
    assert [type(m) for m in ours] == [type(m) for m in ref]
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in ref.state_dict().items()}


@pytest.fixture
def no_vgg(monkeypatch, tmp_path):
    """No weights anywhere: empty hub dir and no environment variable."""
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.delenv('CRBENCH_VGG16_WEIGHTS', raising=False)
    return tmp_path


def test_perceptual_without_weights_is_a_clear_error(no_vgg):
    with pytest.raises(FileNotFoundError, match='vgg16-397923af.pth'):
        VGGPerceptualLoss()
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        VGGPerceptualLoss(weights_path=str(no_vgg / 'missing.pth'), allow_random=True)


def test_perceptual_loads_configured_weights(no_vgg, monkeypatch):
    torch.manual_seed(0)
    weights = {f'features.{k}': v for k, v in _vgg16_to_relu3_3().state_dict().items()}
    path = no_vgg / 'vgg.pth'
    torch.save(weights, path)
    monkeypatch.setenv('CRBENCH_VGG16_WEIGHTS', str(path))
    loss = VGGPerceptualLoss()
    assert loss.weights_file == str(path)
    torch.testing.assert_close(loss.vgg[14].weight, weights['features.14.weight'])
    monkeypatch.setenv('CRBENCH_VGG16_WEIGHTS', str(no_vgg / 'gone.pth'))
    with pytest.raises(FileNotFoundError, match='gone.pth'):
        VGGPerceptualLoss()


def _random_loss(**kw):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return VGGPerceptualLoss(allow_random=True, **kw)


def test_perceptual_random_vgg_any_band_count(no_vgg):
    with pytest.warns(UserWarning, match='RANDOM'):
        VGGPerceptualLoss(allow_random=True)
    rgb, per_band = _random_loss(), _random_loss(band_mode='per_band')
    x, y = torch.rand(2, 4, 16, 16) * 2 - 1, torch.rand(2, 4, 16, 16) * 2 - 1
    assert rgb(x, x) == 0 and per_band(x, x) == 0
    pred = x.clone().requires_grad_(True)
    value = per_band(pred, y)
    value.backward()
    assert value > 0 and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in per_band.parameters())
    # mean_rgb sees only the RGB bands; per_band is the mean of single-band losses.
    y_nir = x.clone()
    y_nir[:, 3] = 0
    assert rgb(x, y_nir) == 0 and per_band(x, y_nir) > 0
    singles = [rgb(x[:, [c] * 3], y[:, [c] * 3]) for c in range(4)]
    torch.testing.assert_close(per_band(x, y), torch.stack(singles).mean())
    x13, y13 = torch.rand(1, 13, 16, 16), torch.rand(1, 13, 16, 16)
    assert per_band(x13, y13) > 0
    assert _random_loss(rgb_bands=(3, 2, 1))(x13, y13) > 0
    with pytest.raises(ValueError, match='per_band'):
        rgb(x[:, :2], y[:, :2])


def test_perceptual_maps_input_range_to_unit_interval(no_vgg):
    # The official network saw [0, 1] data; [-1, 1] inputs are mapped onto it.
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    unit = _random_loss(input_range=(0, 1))
    torch.testing.assert_close(_random_loss()(x * 2 - 1, y * 2 - 1), unit(x, y))


def test_losses_registered(no_vgg):
    for name in ('LogisticGANLoss', 'WGANGeneratorLoss', 'WGANCriticLoss', 'WGANGradientPenalty',
                 'KLDivergenceLoss', 'LaplacianEdgeL1Loss'):
        assert MODELS.build(dict(type=name)).__class__.__name__ == name
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert isinstance(MODELS.build(dict(type='VGGPerceptualLoss', allow_random=True)),
                          VGGPerceptualLoss)
