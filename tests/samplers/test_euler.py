"""EMRDM samplers (crbench/samplers/euler.py) against closed-form results.

Reference values: docs/models.md §3.2 (Karras schedules); EMRDM Algorithm 3 and
Eqs. 11 / 19. The Gaussian tests use data x0 ~ N(m, s^2) per pixel, whose
ideal denoiser is known, and the exact solution of the probability-flow ODE:
with y_l = x_l - alpha sigma mu_l, the frame mean satisfies
ybar - m = z sqrt(s^2 + sigma^2 / L), so the ODE ends at
m + s (ybar(sigma_max) - m) / sqrt(s^2 + sigma_max^2 / L).
"""
import math

import pytest
import torch

from crbench.models.diffusion.processes import MeanRevertingEDM, karras_sigmas
from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers.analytic import GaussianData, path_error
from crbench.samplers.euler import EulerSampler, HeunSampler, StochasticEulerSampler

ALPHA = 3.0


def _process(mu, **kwargs):
    return MeanRevertingEDM(alpha=ALPHA, **kwargs).with_mean(mu)


def _state(batch, frames, channels=2, size=4, seed=0):
    """(mu, noise) shaped B×C×H×W for frames=None, else B×L×C×H×W."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, channels, size, size) if frames is None else (batch, frames, channels, size,
                                                                  size)
    return (torch.randn(shape, generator=g, dtype=torch.float64),
            torch.randn(shape, generator=g, dtype=torch.float64))


def gaussian_denoiser(mu, m, s, alpha=ALPHA):
    """E[x0 | x_1..x_L] for x0 ~ N(m, s^2), x_l = x0 + alpha sigma mu_l + sigma n_l."""
    temporal = mu.dim() == 5

    def denoise(x, sigma):
        sig = sigma.view(-1, *([1] * (x.dim() - 1)))
        y = x - alpha * sig * mu
        frames = 1
        if temporal:
            frames = x.shape[1]
            y, sig = y.mean(dim=1), sig[:, 0]
        return m + s ** 2 / (s ** 2 + sig ** 2 / frames) * (y - m)
    return denoise


def exact_ode_end(noise, m, s, sigma_max=100.0):
    """Where the exact probability-flow ODE ends from n (module docstring)."""
    frames = noise.shape[1] if noise.dim() == 5 else 1
    ybar = sigma_max * (noise.mean(dim=1) if noise.dim() == 5 else noise)
    return m + s * (ybar - m) / math.sqrt(s ** 2 + sigma_max ** 2 / frames)


# ---- schedule -------------------------------------------------------------------
def test_karras_schedule_matches_models_md():
    four = karras_sigmas(4).tolist()
    five = karras_sigmas(5).tolist()
    for got, want, tol in zip(four, [100, 11.156, 0.4496, 0.001, 0],
                              [1e-9, 5e-4, 5e-5, 1e-12, 0]):
        assert got == pytest.approx(want, abs=tol)
    for got, want, tol in zip(five, [100, 20.66, 2.688, 0.1495, 0.001, 0],
                              [1e-9, 5e-3, 5e-4, 5e-5, 1e-12, 0]):
        assert got == pytest.approx(want, abs=tol)
    assert four[-1] == 0.0 and five[-1] == 0.0
    # EDM Eq. 5: sigma^(1/rho) is linear in i
    roots = karras_sigmas(6, 0.002, 80.0, 7.0, append_zero=False) ** (1 / 7)
    assert torch.allclose(roots.diff(), roots.diff()[0].expand(5), atol=1e-12)
    assert karras_sigmas(1).tolist() == pytest.approx([100.0, 0.0])


def test_registry_and_argument_checks():
    for cfg, cls in [(dict(type='EulerSampler', num_steps=4), EulerSampler),
                     (dict(type='StochasticEulerSampler', num_steps=4, s_churn=2.5),
                      StochasticEulerSampler),
                     (dict(type='HeunSampler', num_steps=3), HeunSampler)]:
        assert isinstance(DIFFUSION_SAMPLERS.build(cfg), cls)
    with pytest.raises(ValueError, match='num_steps'):
        EulerSampler(num_steps=0)
    with pytest.raises(ValueError, match='s_churn'):
        StochasticEulerSampler(s_churn=-1)
    mu, noise = _state(1, None)
    with pytest.raises(RuntimeError, match='with_mean'):
        EulerSampler(2)(lambda x, s: x, noise, MeanRevertingEDM())


# ---- oracles ----------------------------------------------------------------------
@pytest.mark.parametrize('frames', [None, 2, 3])
@pytest.mark.parametrize('sampler, tol', [(EulerSampler(64), 0.08), (HeunSampler(32), 0.03)])
def test_gaussian_oracle_depends_on_the_path(frames, sampler, tol):
    """The result must be D on the exact ODE state at sigma_min (crbench/samplers/analytic.py).

    Unlike a constant (point-mass) denoiser, whose value any loop returns
    unchanged, the Gaussian denoiser's final value depends on every step: a
    loop that skipped a step, dropped the alpha mu term of Eq. 11 or moved the
    frames wrongly lands elsewhere (the coarse-step errors show the scale)."""
    data = GaussianData(mean=0.3, std=0.5)
    mu, noise = _state(3, frames, seed=8)
    process = _process(mu)
    assert path_error(sampler, process, data, noise) < tol
    assert path_error(type(sampler)(2), process, data, noise) > 5 * tol


def test_stochastic_sampler_draws_the_data_distribution():
    """With churn the end point is random; for Gaussian data it must be ~ N(m, s^2).

    (First order with churn converges slowly: std 0.51 at 64 steps with
    S_churn 40, 0.586 at 256 steps with S_churn 20.)"""
    data = GaussianData(mean=-0.2, std=0.6)
    mu, noise = _state(4, None, channels=1, size=64, seed=9)
    process = _process(mu)
    sampler = StochasticEulerSampler(256, s_churn=20.0, s_tmin=0.05, s_tmax=50.0)
    out = sampler(data.denoiser(process), noise, process,
                  generator=torch.Generator().manual_seed(0))
    assert out.mean().item() == pytest.approx(data.mean, abs=0.02)
    assert out.std().item() == pytest.approx(data.std, rel=0.04)


@pytest.mark.parametrize('frames', [None, 1, 2, 3])
def test_heun_follows_the_exact_ode(frames):
    m, s = 0.3, 0.5
    mu, noise = _state(2, frames, seed=1)
    out = HeunSampler(200)(gaussian_denoiser(mu, m, s), noise, _process(mu))
    want = exact_ode_end(noise, m, s)
    assert out.shape == want.shape == (2, 2, 4, 4)
    assert (out - want).abs().max() < 2e-3
    # dropping the alpha mu term of Eq. 11 would miss by O(alpha sigma_max |mu| s / sigma_max)
    assert (want - m).abs().max() > 0.1


@pytest.mark.parametrize('frames', [None, 3])
def test_euler_is_first_order(frames):
    m, s = -0.2, 0.7
    mu, noise = _state(2, frames, seed=2)
    want = exact_ode_end(noise, m, s)
    errs = [(EulerSampler(n)(gaussian_denoiser(mu, m, s), noise, _process(mu)) - want)
            .abs().max().item() for n in (100, 200, 400)]
    assert errs[2] < 2e-2
    for coarse, fine in zip(errs, errs[1:]):
        assert 1.6 < coarse / fine < 2.4


def test_euler_step_by_hand():
    """Two Euler steps written out from Eqs. 11 and Alg. 3 (last step returns D)."""
    mu, noise = _state(2, None, seed=3)
    calls = []

    def denoiser(x, sigma):
        calls.append((x.clone(), sigma.clone()))
        return 0.5 * x - 0.1 * ALPHA * sigma.view(-1, 1, 1, 1) * mu
    out = EulerSampler(2)(denoiser, noise, _process(mu))
    s0, s1 = 100.0, 0.001
    x = ALPHA * s0 * mu + s0 * noise
    assert torch.allclose(calls[0][0], x, rtol=1e-12, atol=1e-10)
    den = 0.5 * x - 0.1 * ALPHA * s0 * mu
    d = ALPHA * mu - (den + ALPHA * s0 * mu - x) / s0
    x1 = x + (s1 - s0) * d
    assert torch.allclose(calls[1][0], x1, rtol=1e-10, atol=1e-10)
    assert calls[1][1].tolist() == pytest.approx([s1, s1])
    assert torch.equal(out, 0.5 * calls[1][0] - 0.1 * ALPHA * calls[1][1].view(-1, 1, 1, 1) * mu)


# ---- churn ------------------------------------------------------------------------------
def test_stochastic_churn_shifts_each_sample_by_its_own_mu():
    mu, noise = _state(3, None, seed=4)
    mu = mu + torch.arange(3, dtype=mu.dtype).view(3, 1, 1, 1) * 5  # clearly different means
    seen = []

    def record(x, sigma):
        seen.append((x.clone(), sigma.clone()))
        return torch.zeros_like(x)
    StochasticEulerSampler(4, s_churn=2.5, s_noise=0.0)(record, noise, _process(mu))
    gamma = 2.5 / 4  # num_sigmas = 5 with the appended 0, no sqrt(2) - 1 cap
    sigma_hat = 100.0 * (1 + gamma)
    assert seen[0][1].tolist() == pytest.approx([sigma_hat] * 3)
    # x_hat = x0 + alpha (sigma_hat - sigma) mu_b = alpha sigma_hat mu_b + sigma_max n_b
    assert torch.allclose(seen[0][0], ALPHA * sigma_hat * mu + 100.0 * noise, rtol=1e-12)
    sigmas = karras_sigmas(4).tolist()
    assert [v[1][0].item() for v in seen] == pytest.approx([sg * (1 + gamma)
                                                            for sg in sigmas[:-1]])


def test_stochastic_batch_equals_single_samples():
    m, s = 0.1, 0.6
    mu, noise = _state(3, None, seed=5)
    sampler = StochasticEulerSampler(5, s_churn=5.0, s_noise=0.0)
    batch = sampler(gaussian_denoiser(mu, m, s), noise, _process(mu))
    for b in range(3):
        single = sampler(gaussian_denoiser(mu[b:b + 1], m, s), noise[b:b + 1],
                         _process(mu[b:b + 1]))
        assert torch.allclose(batch[b:b + 1], single, rtol=1e-10, atol=1e-12)


def test_churn_noise_statistics_and_tmin_tmax_gating():
    mu, noise = _state(1, None, channels=1, size=256, seed=6)
    seen = []

    def record(x, sigma):
        seen.append((x.clone(), sigma.item()))
        return torch.zeros_like(x)
    sampler = StochasticEulerSampler(4, s_churn=2.0, s_noise=1.5, s_tmin=0.01, s_tmax=50.0)
    sampler(record, noise, _process(mu), generator=torch.Generator().manual_seed(0))
    sigmas = karras_sigmas(4).tolist()
    gamma = 2.0 / 4
    # sigma 100 > s_tmax and 0.001 < s_tmin: no churn; 11.16 and 0.45: churn
    assert [v[1] for v in seen] == pytest.approx(
        [sigmas[0], sigmas[1] * (1 + gamma), sigmas[2] * (1 + gamma), sigmas[3]])
    # churn noise of step 1: x_hat - x - alpha (sigma_hat - sigma) mu ~ N(0, s_noise^2 (sh^2 - s^2))
    x1 = seen[0][0] + (sigmas[1] - sigmas[0]) * (
        ALPHA * mu - (0 + ALPHA * sigmas[0] * mu - seen[0][0]) / sigmas[0])
    sh = sigmas[1] * (1 + gamma)
    eps = seen[1][0] - x1 - ALPHA * (sh - sigmas[1]) * mu
    expected_std = 1.5 * math.sqrt(sh ** 2 - sigmas[1] ** 2)
    assert eps.mean().abs() < 0.02 * expected_std
    assert eps.std().item() == pytest.approx(expected_std, rel=0.02)


@pytest.mark.parametrize('frames', [None, 1, 2, 3])
def test_shapes_and_last_step_returns_denoised(frames):
    mu, noise = _state(2, frames, channels=3, seed=7)
    last = {}

    def denoiser(x, sigma):
        assert x.shape == mu.shape and sigma.shape == (2,)
        out = torch.tanh(x.mean(dim=1) if frames else x) * sigma.view(-1, 1, 1, 1).log().abs()
        last['d'] = out
        return out
    for sampler in (EulerSampler(3), HeunSampler(3), StochasticEulerSampler(3, s_churn=1.0)):
        out = sampler(denoiser, noise, _process(mu), generator=torch.Generator())
        assert out.shape == (2, 3, 4, 4)
        assert torch.equal(out, last['d'])


def test_callback_and_network_evaluations():
    mu, noise = _state(1, None)
    count, steps = [0], []

    def denoiser(x, sigma):
        count[0] += 1
        return torch.zeros_like(x)
    EulerSampler(4)(denoiser, noise, _process(mu), callback=steps.append)
    assert count[0] == 4 and [c['step'] for c in steps] == [0, 1, 2, 3]
    count[0] = 0
    HeunSampler(4)(denoiser, noise, _process(mu))
    assert count[0] == 2 * 4 - 1
