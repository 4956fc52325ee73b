"""The one signature every diffusion sampler shares.

A sampler owns only the reverse-time loop. The framework binds everything
model-specific into two objects and hands them over:

* ``denoiser(x, t) -> x0_hat``: the framework's best estimate of the clean
  image from the state ``x`` at time ``t`` (DE: the fused x0 of DE Eq. 12;
  EMRDM: the preconditioned D(x; sigma) of EMRDM Eq. 13).
* ``process``: the forward process the loop integrates backwards. It says
  which times to visit (``process.timesteps(num_steps)``) and how to move the
  state between them; each sampler documents which methods it needs.

So any sampler fits any framework whose process offers those methods, and a
sampler is swapped by config alone::

    sampler=dict(type='DDIMSampler', num_steps=50, eta=0.0)
"""
from typing import Callable, Optional

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DiffusionSampler:
    """Base class: ``sampler(denoiser, x_init, process, generator=...)``."""

    def __call__(self, denoiser: Denoiser, x_init: torch.Tensor, process,
                 generator: Optional[torch.Generator] = None,
                 callback: Optional[Callable[[dict], None]] = None,
                 progress: bool = False) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def randn_like(x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
