"""DDPM / DDIM samplers and DE's Gaussian process: closed-form checks."""
import math

import pytest
import torch

from crbench.models.diffusion.processes import GaussianDiffusion, linear_betas
from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers import DDIMSampler, DDPMSampler


@pytest.fixture(scope='module')
def process():
    return GaussianDiffusion.linear(1000, 1e-4, 0.02)


def test_linear_schedule(process):
    betas = linear_betas(1000)
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    abar = 1.0
    for t in range(1000):
        abar *= 1 - (1e-4 + (0.02 - 1e-4) * t / 999)
        if t in (0, 1, 499, 999):
            assert process.alpha_bar(t) == pytest.approx(abar, rel=1e-10)
    assert process.alpha_bar(-1) == 1.0
    # ADM scales the endpoints by 1000 / T
    assert linear_betas(100)[-1].item() == pytest.approx(0.2)


def test_timesteps(process):
    assert process.timesteps(50) == list(range(980, -1, -20))
    assert process.timesteps(10) == list(range(900, -1, -100))
    assert process.timesteps(None) == list(range(999, -1, -1))
    odd = process.timesteps(600)  # no integer stride gives 600: evenly spaced fallback
    assert len(odd) == 600 and odd[0] == 999 and odd[-1] == 0
    assert all(a > b for a, b in zip(odd, odd[1:]))


def test_eq4_eq9_round_trip(process):
    torch.manual_seed(0)
    x0, eps = torch.rand(3, 4, 8, 8) * 2 - 1, torch.randn(3, 4, 8, 8)
    t = torch.tensor([0, 250, 999])
    x_t = process.q_sample(x0, t, eps)
    for i, ti in enumerate(t.tolist()):  # per-sample coefficients vs scalar ones
        a = process.alpha_bar(ti)
        torch.testing.assert_close(x_t[i], math.sqrt(a) * x0[i] + math.sqrt(1 - a) * eps[i])
    torch.testing.assert_close(process.x0_from_eps(x_t, t, eps), x0, atol=2e-4, rtol=0)
    torch.testing.assert_close(process.eps_from_x0(x_t, t, x0), eps, atol=1e-5, rtol=0)


def test_posterior_matches_de_eq13_eq14(process):
    x0, x_t = torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2)
    t = 400
    beta = process.betas[t].item()
    a_t, a_prev = process.alpha_bar(t), process.alpha_bar(t - 1)
    mean, var = process.posterior(x_t, t, t - 1, x0)
    c0 = math.sqrt(a_prev) * beta / (1 - a_t)
    ct = math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)
    torch.testing.assert_close(mean, c0 * x0 + ct * x_t)
    assert var == pytest.approx((1 - a_prev) / (1 - a_t) * beta)
    mean, var = process.posterior(x_t, 0, -1, x0)
    torch.testing.assert_close(mean, x0)
    assert var == 0


@pytest.mark.parametrize('sampler', [DDIMSampler(50, 0.0), DDIMSampler(10, 0.0),
                                     DDIMSampler(10, 1.0), DDPMSampler(20)])
def test_oracle_denoiser_recovers_x0(process, sampler):
    torch.manual_seed(0)
    x0 = torch.rand(2, 3, 4, 4) * 2 - 1
    calls = []
    out = sampler(lambda x, t: calls.append(t) or x0, torch.randn(2, 3, 4, 4), process,
                  generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, x0, atol=1e-6, rtol=0)
    assert len(calls) == sampler.num_steps and calls[0].shape == (2,)
    assert calls[-1].tolist() == [0, 0] and calls[0].dtype == torch.long


def test_ddim_eta0_oracle_keeps_exact_noise(process):
    """With eta = 0 and the true x0, every DDIM state is q_sample(x0, s, eps_T) exactly."""
    torch.manual_seed(0)
    x0, eps = torch.rand(1, 2, 4, 4) * 2 - 1, torch.randn(1, 2, 4, 4)
    x_T = process.q_sample(x0, 980, eps)
    states = []
    DDIMSampler(50)(lambda x, t: x0, x_T, process, callback=states.append)
    for info, s in zip(states, process.timesteps(50)[1:]):
        torch.testing.assert_close(info['x'], process.q_sample(x0, s, eps), atol=1e-5, rtol=0)
    assert [i['step'] for i in states] == list(range(50)) and states[0]['num_steps'] == 50


def test_ddim_eta1_is_ddpm(process):
    """DDIM with eta = 1 is the ancestral posterior: same noise draws, same samples."""
    den = lambda x, t: torch.tanh(x) * 0.7  # noqa: E731 (any x0 estimate)
    x_T = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    for steps in (25, 1000):
        a = DDPMSampler(steps)(den, x_T, process, generator=torch.Generator().manual_seed(5))
        b = DDIMSampler(steps, eta=1.0)(den, x_T, process,
                                        generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def gaussian_chain_moments(process, steps, eta, mu, s):
    """Exact mean / std of a DDIM(eta) chain from x_T ~ N(0, 1) for x0 ~ N(mu, s^2).

    The Bayes-optimal x0_hat = mu + k_t (x_t - sqrt(abar_t) mu), k_t = s^2 sqrt(abar_t) /
    (abar_t s^2 + 1 - abar_t), is linear in x_t, so every step maps (mean, var) in closed form.
    """
    ts = process.timesteps(steps)
    m, v = 0.0, 1.0
    for t, u in zip(ts, ts[1:] + [-1]):
        a, b = process.alpha_bar(t), process.alpha_bar(u)
        k = s * s * math.sqrt(a) / (a * s * s + 1 - a)
        sig = eta * math.sqrt((1 - b) / (1 - a) * (1 - a / b))
        c = math.sqrt(max(1 - b - sig * sig, 0.0)) / math.sqrt(1 - a)  # coefficient of x_t
        d = math.sqrt(b) - c * math.sqrt(a)  # coefficient of x0_hat
        m, v = (c + d * k) * m + d * mu * (1 - k * math.sqrt(a)), (c + d * k) ** 2 * v + sig ** 2
    return m, math.sqrt(v)


@pytest.mark.parametrize('sampler, eta', [(DDPMSampler(None), 1.0), (DDPMSampler(25), 1.0),
                                          (DDIMSampler(100, 1.0), 1.0),
                                          (DDIMSampler(50, 0.0), 0.0),
                                          (DDIMSampler(10, 0.0), 0.0)])
def test_gaussian_data_statistics(process, sampler, eta):
    """x0 ~ N(mu, s^2) with the Bayes-optimal denoiser: sample moments match the exact chain."""
    mu, s = 0.3, 0.5

    def bayes(x, t):
        a = process.alpha_bar(int(t[0]))
        return mu + s ** 2 * math.sqrt(a) / (a * s ** 2 + 1 - a) * (x - math.sqrt(a) * mu)

    gen = torch.Generator().manual_seed(0)
    x_T = torch.randn(2048, 1, 4, 4, generator=gen)
    out = sampler(bayes, x_T, process, generator=gen).double()
    m, sd = gaussian_chain_moments(process, sampler.num_steps, eta, mu, s)
    assert out.mean().item() == pytest.approx(m, abs=0.01)
    assert out.std().item() == pytest.approx(sd, abs=0.01)
    if sampler.num_steps is None:  # the full ancestral chain reproduces the data law
        assert out.mean().item() == pytest.approx(mu, abs=0.01)
        assert out.std().item() == pytest.approx(s, rel=0.02)


def test_registry_and_progress(process):
    sampler = DIFFUSION_SAMPLERS.build(dict(type='DDIMSampler', num_steps=2, eta=0.0))
    assert isinstance(sampler, DDIMSampler)
    assert isinstance(DIFFUSION_SAMPLERS.build(dict(type='DDPMSampler')), DDPMSampler)
    out = sampler(lambda x, t: torch.zeros_like(x), torch.randn(1, 1, 2, 2), process,
                  progress=True)
    assert out.abs().max() == 0
    with pytest.raises(ValueError):
        DDIMSampler(eta=-1.0)
