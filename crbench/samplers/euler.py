"""EDM-style samplers for EMRDM's mean-reverting probability-flow ODE.

EMRDM (Liu et al., CVPR 2025) integrates its ODE (EMRDM Eq. 11) with
s(t) = 1 / (1 + alpha t) and sigma(t) = t, so k(t) = (1 - s)/s = alpha t and
-s'(t) / s(t)^2 = alpha. One step of Algorithm 3 (Algorithm 2 for this s):

* churn (only while ``s_tmin <= sigma_i <= s_tmax``):
  ``gamma = s_churn / (num_sigmas - 1)`` with ``num_sigmas`` counting the
  final 0 (the official code; NOT capped at sqrt(2) - 1 as in EDM),
  ``sigma_hat = sigma_i (1 + gamma)`` and EMRDM Eq. 19
  ``x_hat = x + (k(sigma_hat) - k(sigma_i)) mu + sqrt(sigma_hat^2 - sigma_i^2) eps``,
  ``eps ~ N(0, s_noise^2 I)``; the mean shift uses each sample's own mu;
* Euler step: ``d = alpha mu - (D(x_hat; sigma_hat) + k(sigma_hat) mu - x_hat) / sigma_hat``
  (EMRDM Eq. 11) and ``x = x_hat + (sigma_next - sigma_hat) d``. The step
  to sigma = 0 lands exactly on ``D(x_hat)``, which is returned as is.

Multi-temporal data (L frames): the state holds one image per frame, the
denoiser sees all frames and returns one image, the ODE moves each frame with
its own mu, and the frames are averaged at the end (Algorithm 3 line 16).

The time grid is the EDM/Karras schedule (EDM Eq. 5) with a 0 appended;
EMRDM uses sigma_min 0.001, sigma_max 100, rho 7.

Process interface (``crbench.models.diffusion.processes.MeanRevertingEDM`` bound
to the batch's mu with ``with_mean``): ``timesteps(num_steps)`` (descending
sigmas ending with 0), ``prior(noise, sigma)``, ``churn(x, sigma, sigma_hat,
eps)``, ``derivative(x, denoised, sigma)`` and ``expand(denoised, like)``.
``x_init`` is the standard-normal draw for the state (one image per frame);
the sampler turns it into the Algorithm 3 start ``alpha sigma_max mu +
sigma_max n``. The denoiser is called as ``denoiser(x, sigma[B])``.
"""
import math
from typing import Callable, List, Optional

import torch

from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers.base import DiffusionSampler, progress_iter


def _check_sigmas(sigmas: List[float]) -> None:
    if len(sigmas) < 2 or sigmas[-1] != 0 or any(s <= 0 for s in sigmas[:-1]) \
            or any(a <= b for a, b in zip(sigmas, sigmas[1:])):
        raise ValueError('process.timesteps must return strictly descending positive sigmas '
                         f'followed by 0, got {sigmas}')


class _MeanRevertingEDMSampler(DiffusionSampler):
    """The reverse loop shared by the Euler and Heun samplers (module docstring)."""

    second_order = False
    name = 'EMRDM'
    process_methods = ('timesteps', 'prior', 'churn', 'derivative', 'expand')

    def __init__(self, num_steps: int = 5, s_churn: float = 0.0, s_tmin: float = 0.0,
                 s_tmax: float = math.inf, s_noise: float = 1.0):
        if int(num_steps) != num_steps or num_steps < 1:
            raise ValueError(f'num_steps must be a positive integer, got {num_steps}')
        if s_churn < 0 or s_noise < 0:
            raise ValueError(f's_churn and s_noise must be >= 0, got s_churn={s_churn}, '
                             f's_noise={s_noise}')
        self.num_steps = int(num_steps)
        self.s_churn = float(s_churn)
        self.s_tmin = float(s_tmin)
        self.s_tmax = float(s_tmax)
        self.s_noise = float(s_noise)

    def gamma(self, sigma: float, num_sigmas: int) -> float:
        """gamma_i = S_churn / (num_sigmas - 1) inside [S_tmin, S_tmax], else 0 (no cap)."""
        if self.s_churn > 0 and self.s_tmin <= sigma <= self.s_tmax:
            return self.s_churn / (num_sigmas - 1)
        return 0.0

    @staticmethod
    def _batch_sigma(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)

    @torch.inference_mode()
    def __call__(self, denoiser, x_init, process, generator=None,
                 callback: Optional[Callable[[dict], None]] = None, progress: bool = False):
        self.check_process(process)
        sigmas = [float(s) for s in process.timesteps(self.num_steps)]
        _check_sigmas(sigmas)
        num_sigmas = len(sigmas)
        x = process.prior(x_init, sigmas[0])  # Alg. 3 line 3: N(k(t_0) mu, sigma(t_0)^2 I)
        for i in progress_iter(range(num_sigmas - 1), progress, self.name):
            sigma, sigma_next = sigmas[i], sigmas[i + 1]
            gamma = self.gamma(sigma, num_sigmas)
            sigma_hat = sigma * (1 + gamma)  # Alg. 3 line 9
            if gamma > 0:
                eps = self.s_noise * self.randn_like(x, generator)
                x = process.churn(x, sigma, sigma_hat, eps)  # EMRDM Eq. 19
            denoised = denoiser(x, self._batch_sigma(x, sigma_hat))
            if sigma_next == 0:
                # x_hat + (0 - sigma_hat) d == D(x_hat) in exact arithmetic: every frame lands on D
                x = process.expand(denoised, x)
            else:
                d = process.derivative(x, denoised, sigma_hat)  # EMRDM Eq. 11
                x_next = x + (sigma_next - sigma_hat) * d  # Alg. 3 line 15
                if self.second_order:  # EDM Alg. 1 lines 6-8 (Heun correction)
                    d_next = process.derivative(
                        x_next, denoiser(x_next, self._batch_sigma(x, sigma_next)), sigma_next)
                    x_next = x + (sigma_next - sigma_hat) * 0.5 * (d + d_next)
                x = x_next
            if callback is not None:
                callback(dict(step=i, num_steps=num_sigmas - 1, sigma=sigma,
                              sigma_hat=sigma_hat, sigma_next=sigma_next, x=x, x0=denoised))
        # Alg. 3 line 16: the mean over the L frames, all equal to D(x_hat) after the step to 0
        return denoised


@DIFFUSION_SAMPLERS.register_module()
class EulerSampler(_MeanRevertingEDMSampler):
    """Deterministic first-order Euler (Algorithm 3 with S_churn = 0).

    ``num_steps`` network evaluations (EMRDM: 4 on CUHK-CR, 5 elsewhere).
    """

    name = 'EMRDM Euler'

    def __init__(self, num_steps: int = 5):
        super().__init__(num_steps=num_steps, s_churn=0.0)


@DIFFUSION_SAMPLERS.register_module()
class StochasticEulerSampler(_MeanRevertingEDMSampler):
    """Stochastic Euler (Algorithms 2-3): churn, then a first-order step.

    Args:
        num_steps: network evaluations N.
        s_churn: S_churn; gamma = s_churn / (num_steps + 1 - 1) = s_churn / num_steps
            counting the appended 0 (e.g. 2.5 with 4 steps -> 0.625).
        s_tmin, s_tmax: churn only while s_tmin <= sigma_i <= s_tmax.
        s_noise: S_noise, the std of the churn noise.
    """

    name = 'EMRDM stochastic Euler'


@DIFFUSION_SAMPLERS.register_module()
class HeunSampler(_MeanRevertingEDMSampler):
    """Second-order Heun (EDM Alg. 2 on EMRDM Eq. 11); optional churn as above.

    ``2 num_steps - 1`` network evaluations (no correction on the step to 0).
    """

    second_order = True
    name = 'EMRDM Heun'
