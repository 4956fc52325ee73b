"""DDIM sampling (Song et al. 2021), as DE uses it at inference.

At each visited time t the denoiser returns x0_hat (for DE: the fused x0 of
DE Eq. 12). The noise is re-derived from that x0_hat (inverting DE Eq. 4), and
the state moves to the next visited time s with

    x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z,
    sigma = eta * sqrt((1 - abar_s) / (1 - abar_t)) * sqrt(1 - abar_t / abar_s).

``eta = 0`` is deterministic (DE's setting); ``eta = 1`` is the ancestral
DDPM posterior of the respaced chain.

The process must offer ``timesteps(num_steps)`` (descending, last 0),
``alpha_bar(t)`` (a float; ``alpha_bar(-1) == 1``) and
``eps_from_x0(x_t, t, x0)``.
"""
from typing import Callable, Optional

import torch

from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers.base import DiffusionSampler, progress_iter, step_pairs


@DIFFUSION_SAMPLERS.register_module()
class DDIMSampler(DiffusionSampler):
    """DDIM with ``num_steps`` denoiser calls and stochasticity ``eta``.

    With DE's T = 1000, ``num_steps=50`` visits 980, 960, ..., 0 and
    ``num_steps=10`` visits 900, 800, ..., 0 (ADM's "ddimN" spacing).
    """

    process_methods = ('timesteps', 'alpha_bar', 'eps_from_x0')

    def __init__(self, num_steps: int = 50, eta: float = 0.0):
        if eta < 0:
            raise ValueError(f'DDIM eta must be >= 0, got {eta}')
        self.num_steps = num_steps
        self.eta = float(eta)

    @torch.inference_mode()
    def __call__(self, denoiser, x_init, process, generator=None,
                 callback: Optional[Callable[[dict], None]] = None, progress: bool = False):
        self.check_process(process)
        x = x_init
        pairs = step_pairs(process, self.num_steps)
        for i, (t, s) in enumerate(progress_iter(pairs, progress, 'DDIM')):
            t_batch = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            x0 = denoiser(x, t_batch)
            eps = process.eps_from_x0(x, t, x0)
            abar_t, abar_s = process.alpha_bar(t), process.alpha_bar(s)
            sigma = self.eta * ((1 - abar_s) / (1 - abar_t) * (1 - abar_t / abar_s)) ** 0.5
            x = abar_s ** 0.5 * x0 + max(1 - abar_s - sigma ** 2, 0.0) ** 0.5 * eps
            if sigma > 0:
                x = x + sigma * self.randn_like(x, generator)
            if callback is not None:
                callback(dict(step=i, num_steps=len(pairs), t=t, x=x, x0=x0))
        return x
