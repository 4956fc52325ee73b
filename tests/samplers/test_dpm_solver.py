"""DPM-Solver++(2M) (+SDE) for both processes, and every sampler's order of convergence.

The oracle is Gaussian data (crbench/samplers/analytic.py): its exact denoiser
and the exact probability-flow solution are known in closed form, so a
sampler's error against the exact end of its path must fall like
(steps)^-order: Euler and DDIM (eta 0) first order, Heun and DPM-Solver++(2M)
second order. The slope of log(error) against log(steps) is fitted over a few
step counts; a wrong coefficient changes the slope (or the limit).
"""
import math

import numpy as np
import pytest
import torch

from crbench.models.diffusion.processes import GaussianDiffusion, MeanRevertingEDM
from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers import (DDIMSampler, DDPMSampler, DPMSolverPP2MSampler,
                              DPMSolverPP2MSDESampler, EulerSampler, HeunSampler)
from crbench.samplers.analytic import GaussianData, path_error

DATA = GaussianData(mean=0.3, std=0.5)
DE_PROCESS = GaussianDiffusion.linear(1000)


def _draws(frames=None, seed=0, size=4):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 2, size, size) if frames is None else (2, frames, 2, size, size)
    return (torch.randn(shape, generator=g, dtype=torch.float64),
            torch.randn(shape, generator=g, dtype=torch.float64))


def _slope(make, process, x_init, steps):
    """Fitted slope of log(error) against log(denoiser calls) (DE's logSNR grid can merge
    a few integer timesteps, so the calls are counted, not assumed)."""
    samplers = [make(n) for n in steps]
    calls = [len(s.times(process)) - 1 for s in samplers]
    errors = [path_error(s, process, DATA, x_init) for s in samplers]
    assert all(e > 1e-9 for e in errors), errors  # far above round-off: the fit means something
    return np.polyfit(np.log(calls), np.log(errors), 1)[0], errors


def _dpm(spacing):
    return lambda n: DPMSolverPP2MSampler(n, spacing=spacing)


# ---- order of convergence ---------------------------------------------------------------
@pytest.mark.parametrize('frames', [None, 3])
@pytest.mark.parametrize('make, order', [(EulerSampler, 1), (HeunSampler, 2),
                                         (_dpm('logsnr'), 2), (_dpm('process'), 2)],
                         ids=['euler', 'heun', 'dpm2m-logsnr', 'dpm2m-karras'])
def test_order_of_convergence_mean_reverting(make, order, frames):
    mu, noise = _draws(frames)
    process = MeanRevertingEDM(alpha=3.0).with_mean(mu)
    slope, errors = _slope(make, process, noise, [16, 32, 64, 128])
    assert abs(slope + order) < 0.25, (slope, errors)
    assert errors[-1] < 0.05


@pytest.mark.parametrize('make, order, steps', [
    (DDIMSampler, 1, [50, 100, 200, 250]),
    (_dpm('process'), 2, [50, 100, 200, 250]),
    (_dpm('logsnr'), 2, [16, 32, 64, 128])], ids=['ddim', 'dpm2m-ddim-grid', 'dpm2m-logsnr'])
def test_order_of_convergence_gaussian_diffusion(make, order, steps):
    """DE's integer grid: ADM "ddimN" spacing (strides 20, 10, 5, 4), or logSNR spacing."""
    _, x_init = _draws(seed=1)
    slope, errors = _slope(make, DE_PROCESS, x_init, steps)
    assert abs(slope + order) < 0.25, (slope, errors)


def test_logsnr_spacing_beats_the_ddim_grid_at_few_steps():
    """Why 'logsnr' is the default (DPMSolverPP2MSampler docstring): at 10 steps on DE."""
    _, x_init = _draws(seed=1)
    ddim = path_error(DDIMSampler(10), DE_PROCESS, DATA, x_init)
    on_ddim_grid = path_error(DPMSolverPP2MSampler(10, spacing='process'), DE_PROCESS, DATA,
                              x_init)
    logsnr = path_error(DPMSolverPP2MSampler(10), DE_PROCESS, DATA, x_init)
    assert logsnr < ddim / 4 and logsnr < on_ddim_grid / 4
    times = DPMSolverPP2MSampler(10).times(DE_PROCESS)
    assert times[0] == 999 and times[-2:] == [0, -1] and len(times) == 11


def test_second_order_beats_first_order_at_equal_nfe():
    mu, noise = _draws(seed=2)
    process = MeanRevertingEDM(alpha=3.0).with_mean(mu)
    euler = path_error(EulerSampler(64), process, DATA, noise)
    heun = path_error(HeunSampler(32), process, DATA, noise)  # 63 evaluations
    dpm = path_error(DPMSolverPP2MSampler(64, spacing='process'), process, DATA, noise)
    assert dpm < euler / 5 and heun < euler / 2


# ---- first step by hand ---------------------------------------------------------------------
def test_first_step_is_ddim_and_euler():
    """Without a previous output the update is first order: DDIM (eta 0) for DE and the
    Euler step of EMRDM Eq. 11 for EMRDM (module docstring of crbench/samplers/dpm_solver.py)."""
    def first_state(sampler, process, x_init):
        states = []
        sampler(DATA.denoiser(process), x_init, process, callback=lambda i: states.append(i['x']))
        return states[0]

    _, x_init = _draws(seed=3)
    torch.testing.assert_close(first_state(DPMSolverPP2MSampler(10, spacing='process'),
                                           DE_PROCESS, x_init),
                               first_state(DDIMSampler(10), DE_PROCESS, x_init),
                               rtol=1e-12, atol=1e-12)
    mu, noise = _draws(frames=2, seed=4)
    process = MeanRevertingEDM(alpha=3.0).with_mean(mu)
    torch.testing.assert_close(first_state(DPMSolverPP2MSampler(5, spacing='process'), process,
                                           noise),
                               first_state(EulerSampler(5), process, noise),
                               rtol=1e-12, atol=1e-10)


def test_second_step_by_hand_mean_reverting():
    """y = x - alpha sigma mu; y_2 = (s2/s1) y_1 + (1 - s2/s1)((1 + 1/2r) D_1 - 1/2r D_0)."""
    mu, noise = _draws(seed=5)
    process = MeanRevertingEDM(alpha=3.0).with_mean(mu)
    seen = []

    def denoiser(x, sigma):
        seen.append(x.clone())
        return 0.5 * x - 0.2 * sigma.view(-1, 1, 1, 1) * mu
    DPMSolverPP2MSampler(3)(denoiser, noise, process)  # logSNR: 100, 0.316, 0.001, 0
    s0, s1, s2, _ = process.solver_times(3, 'logsnr')
    assert s1 == pytest.approx(math.sqrt(100 * 0.001))
    d0 = 0.5 * seen[0] - 0.2 * s0 * mu
    d1 = 0.5 * seen[1] - 0.2 * s1 * mu
    y1 = seen[1] - 3.0 * s1 * mu
    r = math.log(s0 / s1) / math.log(s1 / s2)
    dd = (1 + 1 / (2 * r)) * d1 - 1 / (2 * r) * d0
    y2 = s2 / s1 * y1 + (1 - s2 / s1) * dd
    torch.testing.assert_close(seen[2], y2 + 3.0 * s2 * mu, rtol=1e-10, atol=1e-10)


# ---- the SDE variant ---------------------------------------------------------------------------
@pytest.mark.parametrize('process_name, steps', [('de', 50), ('emrdm', 50)])
def test_sde_variant_samples_the_data_distribution(process_name, steps):
    """Output ~ N(m, s^2) per pixel: checks the noise level of every step.

    (On DE's DDIM grid, whose last steps are large in log sigma, the 2M update
    overshoots the spread: std 0.58 at 50 steps, 0.506 at 250; on the default
    logSNR grid 0.504 at 50.)
    """
    g = torch.Generator().manual_seed(6)
    x_init = torch.randn(4, 1, 64, 64, generator=g, dtype=torch.float64)
    if process_name == 'de':
        process = DE_PROCESS
    else:
        process = MeanRevertingEDM(alpha=3.0).with_mean(
            torch.randn(4, 1, 64, 64, generator=g, dtype=torch.float64))
    sampler = DPMSolverPP2MSDESampler(steps)
    out = sampler(DATA.denoiser(process), x_init, process,
                  generator=torch.Generator().manual_seed(7))
    assert out.mean().item() == pytest.approx(DATA.mean, abs=0.02)
    assert out.std().item() == pytest.approx(DATA.std, rel=0.03)
    # without its noise the same update collapses the spread: the noise term matters
    quiet = DPMSolverPP2MSampler(steps, eta=1.0, s_noise=0.0)(DATA.denoiser(process), x_init,
                                                            process)
    assert quiet.std().item() < 0.8 * DATA.std


def test_sde_is_seeded_and_eta0_is_the_ode():
    mu, noise = _draws(seed=8)
    process = MeanRevertingEDM(alpha=3.0).with_mean(mu)
    den = DATA.denoiser(process)
    a = DPMSolverPP2MSDESampler(6)(den, noise, process, generator=torch.Generator().manual_seed(1))
    b = DPMSolverPP2MSDESampler(6)(den, noise, process, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    ode = DPMSolverPP2MSampler(6)(den, noise, process)
    assert torch.equal(DPMSolverPP2MSDESampler(6, eta=0.0)(den, noise, process), ode)
    assert not torch.allclose(a, ode)


# ---- interface -----------------------------------------------------------------------------
def test_registry_nfe_and_arguments():
    for name, cls in [('DPMSolverPP2MSampler', DPMSolverPP2MSampler),
                      ('DPMSolverPP2MSDESampler', DPMSolverPP2MSDESampler)]:
        assert isinstance(DIFFUSION_SAMPLERS.build(dict(type=name, num_steps=7)), cls)
    with pytest.raises(ValueError, match='eta'):
        DPMSolverPP2MSampler(eta=2.0)
    with pytest.raises(ValueError, match='num_steps'):
        DPMSolverPP2MSampler(num_steps=0)
    with pytest.raises(ValueError, match='spacing'):
        DPMSolverPP2MSampler(spacing='karras')
    calls = []
    _, x_init = _draws(seed=9)
    out = DPMSolverPP2MSampler(10, spacing='process')(
        lambda x, t: calls.append(t) or torch.zeros_like(x), x_init, DE_PROCESS)
    assert len(calls) == 10 and calls[0].dtype == torch.long and calls[-1].tolist() == [0, 0]
    assert out.shape == x_init.shape


@pytest.mark.parametrize('sampler, process, needs', [
    (DDIMSampler(5), MeanRevertingEDM().with_mean(torch.zeros(1, 1, 2, 2)), 'alpha_bar'),
    (DDPMSampler(5), MeanRevertingEDM().with_mean(torch.zeros(1, 1, 2, 2)), 'posterior'),
    (EulerSampler(5), DE_PROCESS, 'prior'),
    (HeunSampler(5), DE_PROCESS, 'churn'),
])
def test_a_sampler_refuses_a_process_it_cannot_integrate(sampler, process, needs):
    with pytest.raises(TypeError) as info:
        sampler(lambda x, t: x, torch.zeros(1, 1, 2, 2), process)
    message = str(info.value)
    assert type(sampler).__name__ in message and type(process).__name__ in message
    assert needs in message and 'DPMSolverPP2MSampler' in message  # names the ones that fit
