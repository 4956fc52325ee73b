"""An analytic test problem for samplers: Gaussian data, whose exact solution is known.

With data x0 ~ N(m, s^2) independently per pixel, every process in the common
solver view (``crbench.models.diffusion.processes``: ``y = to_ve(x, t) =
x0 + sigma n`` per frame, sigma = ``sigma_ve(t)``) has

* the exact denoiser (posterior mean given the L frames y_1..y_L):
  ``D = m + s^2 / (s^2 + sigma^2 / L) (ybar - m)``, ybar the frame mean;
* the exact probability-flow solution: ``dy_l/dsigma = (y_l - D) / sigma``
  gives ``ybar(sigma) - m = (ybar(sigma_0) - m) sqrt(s^2 + sigma^2 / L) /
  sqrt(s^2 + sigma_0^2 / L)`` (the frames' deviations from ybar shrink like
  sigma).

Samplers visit the last positive noise level sigma_last and then return
D there (DDIM, Euler, DPM-Solver++ alike), so the exact result of a
sampler's path is D evaluated on the exact state at sigma_last:

    m + (ybar_0 - m) s^2 / sqrt((s^2 + sigma_last^2 / L) (s^2 + sigma_0^2 / L)).

``tools/benchmark_samplers.py`` and ``tests/samplers`` measure a sampler's
error against it; the error falls as (steps)^-order.
"""
import math
from typing import Callable

import torch
from torch import Tensor


class GaussianData:
    """x0 ~ N(mean, std^2) per pixel (module docstring)."""

    def __init__(self, mean: float = 0.0, std: float = 0.5):
        if std <= 0:
            raise ValueError(f'std must be > 0, got {std}')
        self.mean, self.std = float(mean), float(std)

    @staticmethod
    def _frame_mean(y: Tensor, process) -> Tensor:
        return y.mean(dim=1) if getattr(process, 'temporal', False) else y

    @staticmethod
    def _num_frames(x: Tensor, process) -> int:
        return x.shape[1] if getattr(process, 'temporal', False) else 1

    def denoiser(self, process) -> Callable[[Tensor, Tensor], Tensor]:
        """The exact D(x; t) for ``process`` (the batch shares one time)."""
        m, s2 = self.mean, self.std ** 2

        def denoise(x: Tensor, t: Tensor) -> Tensor:
            time = t.reshape(-1)[0].item()
            sigma = process.sigma_ve(time)
            ybar = self._frame_mean(process.to_ve(x, time), process)
            return m + s2 / (s2 + sigma ** 2 / self._num_frames(x, process)) * (ybar - m)

        return denoise

    def exact_result(self, process, x_start: Tensor, t_start, t_last) -> Tensor:
        """D on the exact probability-flow state at ``t_last`` from ``x_start`` at ``t_start``."""
        m, s2 = self.mean, self.std ** 2
        frames = self._num_frames(x_start, process)
        sigma_0, sigma_last = process.sigma_ve(t_start), process.sigma_ve(t_last)
        ybar = self._frame_mean(process.to_ve(x_start, t_start), process)
        return m + (ybar - m) * (s2 / math.sqrt((s2 + sigma_last ** 2 / frames)
                                                * (s2 + sigma_0 ** 2 / frames)))


def path_error(sampler, process, data: GaussianData, x_init: Tensor,
               generator=None) -> float:
    """Max |sampler output - exact result| on ``data`` from the draw ``x_init``."""
    times = sampler.times(process)
    x_start = process.start(x_init, times[0])
    want = data.exact_result(process, x_start, times[0], times[-2])
    with torch.inference_mode():
        got = sampler(data.denoiser(process), x_init, process, generator=generator)
    return (got - want).abs().max().item()
