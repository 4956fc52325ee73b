"""DiffCR framework (crbench/models/diffusion/diffcr.py) and its schedule / time view
(sigmoid_betas, InterpolatedVP in crbench/models/diffusion/processes.py).

References: the sigmoid schedule's closed form (scipy's expit), numpy's interp for the
piecewise-linear log alpha, Imagen's dynamic thresholding, and the exactness of
DPM-Solver++ on a point mass (the solver keeps the forward marginals). The sampler was
also compared with the official DPM-Solver (XavierJiezou/DiffCR core/dpm_solver_pytorch.py,
20 steps, order 2, time-uniform, denoise_to_zero, dynamic thresholding) on a shared random
network in a scratch copy: max abs diff 3.9e-7.
"""
import math

import numpy as np
import pytest
import torch
from scipy.special import expit
from torch import nn

from crbench.models.diffusion.diffcr import DiffCR, dynamic_threshold
from crbench.models.diffusion.processes import InterpolatedVP, sigmoid_betas
from crbench.registry import MODELS
from crbench.structures import CRDataSample


@MODELS.register_module(force=True)
class TinyDiffCRNet(nn.Module):
    """x0_hat = conv(x) + a * cond.sum(frames) + b * level; records the last noise level."""

    def __init__(self, in_channels=3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.head = self.conv
        self.level_scale = nn.Parameter(torch.tensor(0.01))
        self.levels = []

    def forward(self, x, level, cond):
        self.levels.append(level.detach().clone())
        return self.conv(x) + cond.sum(1) * 0.1 + self.level_scale * level.view(-1, 1, 1, 1)


def _model(**kw):
    return DiffCR(network=dict(type='TinyDiffCRNet'), **kw)


def test_sigmoid_betas_closed_form():
    T = 50
    betas = sigmoid_betas(T).numpy()
    t = np.linspace(0, 1, T + 1)
    abar = (expit(3) - expit(6 * t - 3)) / (expit(3) - expit(-3))
    expected = np.clip(1 - abar[1:] / abar[:-1], 0, 0.999)
    np.testing.assert_allclose(betas, expected, rtol=1e-12, atol=1e-15)
    assert betas[-1] == pytest.approx(0.999)  # abar reaches 0 at t = 1


def test_interpolated_vp_clips_and_interpolates():
    betas = sigmoid_betas(1000)
    vp = InterpolatedVP(betas)
    # abar_999 = 0 has lambda = -inf < -5.1: only that step is dropped (as DPM-Solver's
    # NoiseScheduleVP does for this schedule: total_N = 999)
    assert vp.num_timesteps == 999
    log_alpha = 0.5 * np.cumsum(np.log1p(-betas.numpy()))[:999]
    grid = np.arange(1, 1000) / 999
    for t in (1.0, 0.5, 0.123456, 1 / 999):
        assert vp.log_alpha_at(t) == pytest.approx(np.interp(t, grid, log_alpha), abs=1e-12)
    assert vp.sigma_ve(0.0) == 0.0
    assert vp.model_time(torch.tensor([1 / 999, 1.0])).tolist() == pytest.approx([0.0, 998.998999],
                                                                                   rel=1e-6)
    times = vp.solver_times(20)
    assert len(times) == 22 and times[0] == 1.0 and times[-2] == pytest.approx(1 / 999)
    assert times[-1] == 0.0
    lam = [-math.log(vp.sigma_ve(t)) for t in vp.solver_times(10, 'logsnr')[:-1]]
    # inverted by linear interpolation of lambda between grid times: uniform to ~1e-4
    assert np.allclose(np.diff(lam), (lam[-1] - lam[0]) / 10, rtol=1e-4)


def test_dynamic_threshold():
    x = torch.tensor([[0.5, -0.9, 0.2, 0.1]])
    assert torch.equal(dynamic_threshold(x, 0.995), x)  # inside [-1, 1]: untouched
    y = torch.tensor([[4.0, -2.0, 1.0, 0.0]]).view(1, 1, 2, 2)
    s = float(np.quantile(np.abs(y.numpy()), 0.5))
    assert torch.allclose(dynamic_threshold(y, 0.5), y.clamp(-s, s) / s)


def test_sampler_is_exact_for_a_point_mass_and_uses_model_time():
    model = _model(threshold_ratio=None).eval()
    x0 = torch.rand(2, 3, 8, 8) * 1.6 - 0.8
    model.denoiser = lambda cond: (lambda x, t: x0)
    out = model.sample({'cloudy': torch.zeros(2, 3, 3, 8, 8)},
                       generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-6)

    model = _model().eval()
    model.sample({'cloudy': torch.zeros(1, 3, 3, 8, 8)})
    levels = torch.cat(model.network.levels).tolist()
    assert len(levels) == 21  # 20 DPM-Solver++ steps + the final denoising step
    assert levels[0] == pytest.approx(998.999, rel=1e-5) and levels[-1] == pytest.approx(0, abs=1e-3)
    gamma_model = _model(sampling_noise_input='gamma').eval()
    gamma_model.sample({'cloudy': torch.zeros(1, 3, 3, 8, 8)})
    assert 0 < min(torch.cat(gamma_model.network.levels).tolist()) < 1e-2


def test_training_loss_is_mse_of_x0_at_a_continuous_gamma():
    torch.manual_seed(0)
    model = _model()
    abar = model.train_process.alphas_cumprod
    gamma = model.sample_gamma(4000, torch.zeros(1))
    assert gamma.min() >= float(abar[-1]) and gamma.max() <= float(abar[0])
    assert len(torch.unique(gamma)) > 3990  # continuous: the discrete abar has only 1,999 values
    x0, cond = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 3, 8, 8)
    g, noise = torch.tensor([0.3, 0.9]), torch.randn(2, 3, 8, 8)
    y = g.sqrt().view(-1, 1, 1, 1) * x0 + (1 - g).sqrt().view(-1, 1, 1, 1) * noise
    expected = ((model.network(y, g, cond) - x0) ** 2).mean()
    assert model.diffusion_loss(x0, cond, g, noise).item() == pytest.approx(expected.item())
    losses = model.loss({'cloudy': cond}, [CRDataSample(gt=t) for t in x0])
    assert losses['loss'].requires_grad


def test_condition_bands_sar_and_errors():
    model = _model(cond_bands=[0, 1, 2])
    cloudy = torch.randn(2, 3, 4, 8, 8)
    assert torch.equal(model.condition({'cloudy': cloudy}), cloudy[:, :, :3])
    mono = DiffCR(network=dict(type='TinyDiffCRNet', in_channels=3))
    cond = mono.condition({'cloudy': torch.randn(2, 13, 8, 8), 'sar': torch.randn(2, 2, 8, 8)})
    assert cond.shape == (2, 1, 15, 8, 8)
    with pytest.raises(KeyError, match='cloudy'):
        model.condition({'sar': cloudy})
    with pytest.raises(ValueError, match='cond_bands'):
        _model(cond_bands=[7]).condition({'cloudy': cloudy})
    with pytest.raises(ValueError, match='sampling_noise_input'):
        _model(sampling_noise_input='sigma')
