"""DPM-Solver++(2M) and its SDE variant (Lu et al., 2022), for DE and EMRDM alike.

Both processes are written in the common solver view of
``crbench.models.diffusion.processes``: a state ``y = to_ve(x, t)`` with
``y(t) = x0 + sigma(t) n`` (sigma = ``sigma_ve(t)``), whose probability-flow
ODE is ``dy/dsigma = (y - D) / sigma`` (for DE: DE Eq. 4 divided by
sqrt(abar_t); for EMRDM: EMRDM Eq. 11 with the mean-addition term k(t) mu of
Eq. 6 taken out, see that module). With lambda = -log sigma and
h = lambda_next - lambda > 0, the exact solution over one step is

    y_next = (sigma_next / sigma) y + sigma_next int_lambda^lambda_next e^l D(l) dl
                                            (DPM-Solver++, Sec. 4: the data-prediction form)

DPM-Solver++(2M) (Alg. 2 of the paper) takes D linear in lambda through the
current and the previous denoiser outputs (r = h_prev / h):

    y_next = (sigma_next / sigma) y + (1 - e^-h) ((1 + 1/(2r)) D - 1/(2r) D_prev),

and a first-order step (= DDIM with eta 0, = EMRDM's Euler step) where no
previous output exists (the first step) and on the step to sigma = 0, which
lands on D itself. One denoiser call per step: ``num_steps`` calls in all.

The SDE variant integrates the reverse SDE dy = 2 (y - D)/sigma dsigma +
sqrt(2 sigma) dW instead; in lambda its linear part is dy/dlambda = -2 (y - D),
so with ``eta`` in [0, 1] (1: the SDE, 0: the ODE above) and
h_eta = (1 + eta) h:

    y_next = (sigma_next / sigma) e^(-eta h) y + (1 - e^-h_eta) D
             + (1 - e^-h_eta) / (2 r) (D - D_prev)
             + sigma_next sqrt(1 - e^(-2 eta h)) s_noise z,      z ~ N(0, I).

For a point mass at x0 (D = x0, y = x0 + sigma n) this gives y_next = x0 +
sigma_next n' again (sigma_next / sigma = e^-h, so the two coefficients of x0
sum to 1 and the variances to sigma_next^2): the step keeps the forward
marginals. With L frames (EMRDM, multi-temporal) every frame moves
with the shared D and its own noise, and the result is D (all frames equal).
"""
import math
from typing import Callable, List, Optional

import torch

from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers.base import DiffusionSampler, progress_iter


@DIFFUSION_SAMPLERS.register_module()
class DPMSolverPP2MSampler(DiffusionSampler):
    """DPM-Solver++(2M), second order, deterministic with ``eta=0`` (module docstring).

    Works with DE (``GaussianDiffusion``) and EMRDM (``MeanRevertingEDM``).

    Args:
        num_steps: denoiser calls (= network evaluations; with DE's integer
            timesteps and ``spacing='logsnr'`` possibly fewer, see
            ``GaussianDiffusion.solver_times``).
        eta: 0 follows the probability-flow ODE; > 0 adds the SDE's noise.
        s_noise: scale of the SDE noise (1: the SDE itself).
        spacing: ``'logsnr'`` (default): steps uniform in lambda = -log sigma,
            as DPM-Solver recommends; ``'process'``: the process's own grid
            (DE: DDIM's, e.g. 20 -> 950, 900, ..., 0; EMRDM: the Karras sigmas).
            On Gaussian data (``tools/benchmark_samplers.py``) the linear-in-
            lambda extrapolation of 2M overshoots across the large final
            lambda steps of DE's DDIM grid: at 10 steps its error is above
            DDIM's there, and about 8x below DDIM's on the logSNR grid.
    """

    name = 'DPM-Solver++(2M)'
    process_methods = ('solver_times', 'start', 'time_batch', 'sigma_ve', 'to_ve', 'from_ve',
                       'expand')

    def __init__(self, num_steps: int = 20, eta: float = 0.0, s_noise: float = 1.0,
                 spacing: str = 'logsnr'):
        if spacing not in ('logsnr', 'process'):
            raise ValueError(f"spacing must be 'logsnr' or 'process', got {spacing!r}")
        if int(num_steps) != num_steps or num_steps < 1:
            raise ValueError(f'num_steps must be a positive integer, got {num_steps}')
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f'eta must be in [0, 1], got {eta}')
        if s_noise < 0:
            raise ValueError(f's_noise must be >= 0, got {s_noise}')
        self.num_steps = int(num_steps)
        self.eta = float(eta)
        self.s_noise = float(s_noise)
        self.spacing = spacing

    def times(self, process) -> list:
        return list(process.solver_times(self.num_steps, self.spacing))

    @staticmethod
    def _sigmas(process, times: List) -> List[float]:
        sigmas = [float(process.sigma_ve(t)) for t in times]
        if len(sigmas) < 2 or sigmas[-1] != 0 or any(s <= 0 for s in sigmas[:-1]) \
                or any(a <= b for a, b in zip(sigmas, sigmas[1:])):
            raise ValueError('the process must visit strictly decreasing noise levels ending at '
                             f'the clean image (sigma 0), got sigma_ve = {sigmas}')
        return sigmas

    @torch.inference_mode()
    def __call__(self, denoiser, x_init, process, generator=None,
                 callback: Optional[Callable[[dict], None]] = None, progress: bool = False):
        self.check_process(process)
        times = self.times(process)
        sigmas = self._sigmas(process, times)
        num = len(times) - 1
        x = process.start(x_init, times[0])
        previous, h_previous = None, None
        for i in progress_iter(range(num), progress, self.name):
            t, t_next = times[i], times[i + 1]
            sigma, sigma_next = sigmas[i], sigmas[i + 1]
            denoised = denoiser(x, process.time_batch(t, x))
            d = process.expand(denoised, x)
            if sigma_next == 0:
                # h = inf: e^-h = 0 and the step lands on D (first order, as DDIM / Euler)
                x = process.from_ve(d, t_next)
            else:
                y = process.to_ve(x, t)
                h = math.log(sigma / sigma_next)  # lambda_next - lambda, lambda = -log sigma
                h_eta = (1.0 + self.eta) * h
                coef_d = -math.expm1(-h_eta)  # 1 - e^-h_eta
                y_next = (sigma_next / sigma * math.exp(-self.eta * h)) * y + coef_d * d
                if previous is not None:  # second-order (multistep) correction, Alg. 2
                    r = h_previous / h
                    y_next = y_next + (coef_d / (2.0 * r)) * (d - previous)
                if self.eta > 0 and self.s_noise > 0:
                    noise_std = sigma_next * math.sqrt(-math.expm1(-2.0 * self.eta * h))
                    y_next = y_next + (noise_std * self.s_noise) * self.randn_like(y, generator)
                x = process.from_ve(y_next, t_next)
                previous, h_previous = d, h
            if callback is not None:
                callback(dict(step=i, num_steps=num, t=t, t_next=t_next, sigma=sigma,
                              sigma_next=sigma_next, x=x, x0=denoised))
        return denoised


@DIFFUSION_SAMPLERS.register_module()
class DPMSolverPP2MSDESampler(DPMSolverPP2MSampler):
    """DPM-Solver++(2M) SDE: the same multistep update on the reverse SDE (``eta=1``)."""

    name = 'DPM-Solver++(2M) SDE'

    def __init__(self, num_steps: int = 20, eta: float = 1.0, s_noise: float = 1.0,
                 spacing: str = 'logsnr'):
        super().__init__(num_steps=num_steps, eta=eta, s_noise=s_noise, spacing=spacing)
