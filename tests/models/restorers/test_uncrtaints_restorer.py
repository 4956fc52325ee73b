"""UncertaintyRestorer and DiagonalGaussianNLLLoss (UnCRtainTS's framework and loss)."""
import math

import pytest
import torch

from crbench.models.restorers.uncertainty import DiagonalGaussianNLLLoss, UncertaintyRestorer
from crbench.structures import CRDataSample

TINY = dict(type='UnCRtainTS', width=8, n_head=4, d_model=8, d_k=2, decoder_blocks=1,
            positional_encoding=False, scale_by=10.0)


def test_nll_equals_torch_gaussian_nll_summed_over_bands():
    torch.manual_seed(0)
    mean, target = torch.randn(3, 5, 4, 4), torch.randn(3, 5, 4, 4)
    var = torch.rand(3, 5, 4, 4) + 0.05
    ours = DiagonalGaussianNLLLoss()(mean, target, var)
    ref = torch.nn.GaussianNLLLoss(full=True, eps=1e-8, reduction='none')(mean, target, var)
    assert ours.item() == pytest.approx(ref.sum(dim=1).mean().item(), rel=1e-6)
    # the official batch-summed log-determinant: every sample gets the whole batch's
    quirk = DiagonalGaussianNLLLoss(batch_summed_logdet=True)(mean, target, var)
    logdet = var.log().sum(dim=1)
    want = 0.5 * (logdet.sum(0, keepdim=True) + ((target - mean) ** 2 / var).sum(1)).mean() \
        + 0.5 * 5 * math.log(2 * math.pi)
    assert quirk.item() == pytest.approx(want.item(), rel=1e-6)


def test_nll_variance_floor_keeps_the_gradient():
    mean, target = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
    var = torch.full((1, 1, 1, 1), 1e-12, requires_grad=True)
    loss = DiagonalGaussianNLLLoss(eps=1e-8, full=False)(mean, target, var)
    assert loss.item() == pytest.approx(0.5 * (math.log(1e-8) + 1e8), rel=1e-5)
    loss.backward()
    # d/dvar at the floor value 1e-8 (the gradient passes as if unclamped)
    assert var.grad.item() == pytest.approx(0.5 * (1 / 1e-8 - 1 / 1e-16), rel=1e-4)
    with pytest.raises(ValueError, match='negative'):
        DiagonalGaussianNLLLoss()(mean, target, -torch.ones(1, 1, 1, 1))
    with pytest.raises(ValueError, match='must match'):
        DiagonalGaussianNLLLoss()(mean, target, torch.ones(1, 2, 1, 1))


def sample(gt):
    s = CRDataSample()
    s.gt = gt
    return s


def test_inputs_units_prediction_and_variance():
    torch.manual_seed(0)
    model = UncertaintyRestorer(
        dict(TINY, in_channels=6, out_channels=4, covariance='diag'),
        loss=dict(type='DiagonalGaussianNLLLoss'), input_keys=('sar', 'cloudy')).eval()
    sar, cloudy = torch.rand(2, 2, 8, 8) * 2 - 1, torch.rand(2, 3, 4, 8, 8) * 2 - 1
    x = model.network_input({'sar': sar, 'cloudy': cloudy})
    assert x.shape == (2, 3, 6, 8, 8)
    # SAR first, repeated over the dates; [-1, 1] -> [0, 1] -> x scale_by
    assert torch.allclose(x[:, 1, :2], (sar + 1) / 2 * 10)
    assert torch.allclose(x[:, :, 2:], (cloudy + 1) * 5)
    samples = model.predict({'sar': sar, 'cloudy': cloudy}, [sample(torch.zeros(4, 8, 8))] * 2)
    mean, var = model.generator.split(model.generator(x))
    assert torch.allclose(samples[1].pred, mean[1] / 10 * 2 - 1)
    # variance in [-1, 1] units: (2 / scale_by)^2 times the network's
    assert torch.allclose(samples[1].pred_var, var[1] * 0.04)
    losses = model.loss({'sar': sar, 'cloudy': cloudy}, [sample(torch.zeros(4, 8, 8))] * 2)
    assert set(losses) == {'loss_nll'} and torch.isfinite(losses['loss_nll'])


def test_l2_model_and_configuration_errors():
    l2 = UncertaintyRestorer(dict(TINY, in_channels=4, out_channels=3, covariance=None,
                                  mono_temporal=True, n_head=1), loss=dict(type='MSELoss'))
    cloudy, gt = torch.rand(2, 4, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    losses = l2.loss({'cloudy': cloudy}, [sample(g) for g in gt])
    mean = l2.generator(l2.network_input({'cloudy': cloudy}))
    assert losses['loss_l2'].item() == pytest.approx(
        torch.mean((mean - (gt + 1) * 5) ** 2).item(), rel=1e-6)
    out = l2.predict({'cloudy': cloudy}, [sample(g) for g in gt])
    assert 'pred_var' not in out[0] and out[0].pred.abs().max() <= 1
    with pytest.raises(KeyError, match='sar'):
        UncertaintyRestorer(dict(TINY, in_channels=6, out_channels=3, covariance=None),
                            input_keys=('sar', 'cloudy')).restore({'cloudy': cloudy})
    with pytest.raises(ValueError, match='variance head'):
        UncertaintyRestorer(dict(TINY, in_channels=4, out_channels=3, covariance=None),
                            loss=dict(type='DiagonalGaussianNLLLoss'))
    with pytest.raises(ValueError, match='ignores them'):
        UncertaintyRestorer(dict(TINY, in_channels=4, out_channels=3, covariance='diag'),
                            loss=dict(type='MSELoss'))
    with pytest.raises(TypeError, match='use UnCRtainTS'):
        UncertaintyRestorer(dict(type='CVAE'), loss=dict(type='MSELoss'))
