"""Ancestral DDPM sampling (Ho et al. 2020; DE Eqs. 13-15).

The process handed to the sampler must offer (``crbench.models.diffusion.
processes.GaussianDiffusion`` does):

* ``timesteps(num_steps) -> list[int]``: times to visit, descending, last 0;
* ``posterior(x_t, t, s, x0) -> (mean, variance)``: q(x_s | x_t, x0) for
  ``s < t`` (``s = -1`` means the clean image, where the variance is 0).

The denoiser gets ``(x, t)`` with ``t`` a long tensor of shape ``[B]``.
"""
from typing import Callable, Optional

import torch

from crbench.registry import DIFFUSION_SAMPLERS
from crbench.samplers.base import DiffusionSampler, progress_iter, step_pairs


@DIFFUSION_SAMPLERS.register_module()
class DDPMSampler(DiffusionSampler):
    """Ancestral sampling: ``x_s ~ q(x_s | x_t, x0_hat)`` at every step.

    Args:
        num_steps: number of denoiser calls; ``None`` visits every timestep of
            the process (1000 for DE). Fewer steps use the respaced chain (the
            posterior between the visited times), as ADM's respacing does.

    Unlike the official DE code, whose ancestral path drops the reference
    prior (docs/models.md section 2.2), this uses the framework's denoiser, i.e.
    the fused x0 of DE Eq. 12, at every step.
    """

    process_methods = ('timesteps', 'posterior')

    def __init__(self, num_steps: Optional[int] = None):
        self.num_steps = num_steps

    @torch.inference_mode()
    def __call__(self, denoiser, x_init, process, generator=None,
                 callback: Optional[Callable[[dict], None]] = None, progress: bool = False):
        self.check_process(process)
        x = x_init
        pairs = step_pairs(process, self.num_steps)
        for i, (t, s) in enumerate(progress_iter(pairs, progress, 'DDPM')):
            t_batch = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            x0 = denoiser(x, t_batch)
            mean, var = process.posterior(x, t, s, x0)  # DE Eqs. 13-14
            if var > 0:
                x = mean + var ** 0.5 * self.randn_like(x, generator)  # DE Eq. 15
            else:
                x = mean
            if callback is not None:
                callback(dict(step=i, num_steps=len(pairs), t=t, x=x, x0=x0))
        return x
