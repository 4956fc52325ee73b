"""The one signature every diffusion sampler shares, and the helpers of the loops.

A sampler owns only the reverse-time loop. The framework binds everything
model-specific into two objects and hands them over:

* ``denoiser(x, t) -> x0_hat``: the framework's best estimate of the clean
  image from the state ``x`` at time ``t`` (DE: the fused x0 of DE Eq. 12;
  EMRDM: the preconditioned D(x; sigma) of EMRDM Eq. 13).
* ``process``: the forward process the loop integrates backwards
  (``crbench.models.diffusion.processes``). It says which times to visit and
  how to move the state between them; each sampler lists the methods it needs
  in ``process_methods`` and refuses, with a clear error, a process without
  them (e.g. DDIM with EMRDM's process).

So any sampler fits any framework whose process offers those methods, and a
sampler is swapped by config alone::

    sampler=dict(type='DDIMSampler', num_steps=50, eta=0.0)
"""
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DiffusionSampler:
    """Base class: ``sampler(denoiser, x_init, process, generator=...)``."""

    #: the process methods the loop calls (checked by ``check_process``)
    process_methods: Sequence[str] = ()

    def __call__(self, denoiser: Denoiser, x_init: torch.Tensor, process,
                 generator: Optional[torch.Generator] = None,
                 callback: Optional[Callable[[dict], None]] = None,
                 progress: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def times(self, process) -> list:
        """The times this sampler visits on ``process``, then the clean time (the
        last entry); used to compare a run with an exact solution."""
        return list(process.solver_times(self.num_steps))

    @classmethod
    def check_process(cls, process) -> None:
        """Refuse a process that lacks a method this sampler calls, naming the ones that fit."""
        missing = [m for m in cls.process_methods if not callable(getattr(process, m, None))]
        if not missing:
            return
        from crbench.registry import DIFFUSION_SAMPLERS
        DIFFUSION_SAMPLERS.import_from_location()
        fitting = sorted(name for name, other in DIFFUSION_SAMPLERS.module_dict.items()
                         if isinstance(other, type) and issubclass(other, DiffusionSampler)
                         and other.process_methods
                         and all(callable(getattr(process, m, None))
                                 for m in other.process_methods))
        raise TypeError(
            f'{cls.__name__} cannot integrate a {type(process).__name__} process: it needs '
            f'process.{", process.".join(missing)}, which that process does not offer. '
            f'Samplers for {type(process).__name__}: {", ".join(fitting) or "none registered"}; '
            "set the framework's sampler=dict(type=...) to one of them.")

    @staticmethod
    def randn_like(x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def progress_iter(iterable: Iterable, enabled: bool, description: str) -> Iterable:
    """Wrap ``iterable`` in a rich progress bar when ``enabled``."""
    if not enabled:
        return iterable
    from rich.progress import track
    items = list(iterable)
    return track(items, description=description, total=len(items))


def step_pairs(process, num_steps: Optional[int]) -> List[Tuple[int, int]]:
    """``[(t, s), ...]``: each visited time with the next one (``-1`` after 0)."""
    steps = list(process.timesteps(num_steps))
    if not steps or steps[-1] != 0 or any(a <= b for a, b in zip(steps, steps[1:])):
        raise ValueError(f'process.timesteps must be strictly descending and end at 0, got {steps}')
    return list(zip(steps, steps[1:] + [-1]))
