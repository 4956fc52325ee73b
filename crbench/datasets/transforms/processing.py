"""Resizing, scaling and augmentation of H×W×C float arrays."""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS
from .matlab_resize import matlab_imresize


@TRANSFORMS.register_module()
class MatlabResize(BaseTransform):
    """MATLAB-compatible antialiased bicubic resize (docs/datasets.md §2.6 step 3).

    Give ``scale`` (0.5 for CUHK-CR and RICE: 512 → 256) or ``size=(H, W)``
    (DE stage 1 resizes the whole image to 64). No rounding, no clipping.
    """

    def __init__(self, keys: Sequence[str] = ('cloudy', 'gt'), scale: float = None,
                 size: Tuple[int, int] = None):
        if (scale is None) == (size is None):
            raise ValueError('MatlabResize needs exactly one of scale or size')
        self.keys, self.scale, self.size = tuple(keys), scale, size

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = matlab_imresize(results[key], scale=self.scale,
                                           output_shape=self.size)
        results['img_shape'] = results[self.keys[0]].shape[:2]
        return results


@dataclass(frozen=True)
class SymmetricScaling:
    """``v ↦ 2 (v - lo) / (hi - lo) - 1`` and back: the one map between a dataset's
    units and crbench's [-1, 1] (dataset pipelines, scene inference, saved predictions).

    ``clip`` clips to [lo, hi] first (SEN12MS-CR, docs/datasets.md §4.6; CUHK-CR and
    RICE keep the bicubic overshoot, §2.6), then NaN becomes ``nan_value``.
    """
    lo: float = 0.0
    hi: float = 255.0
    clip: bool = False
    nan_value: Optional[float] = None

    def __post_init__(self):
        if not self.hi > self.lo:
            raise ValueError(f'in_range must have hi > lo, got ({self.lo}, {self.hi})')

    def forward(self, value: np.ndarray) -> np.ndarray:
        """Dataset units → [-1, 1], float32."""
        value = value.astype(np.float32)
        if self.clip:
            value = np.clip(value, self.lo, self.hi)
        if self.nan_value is not None:
            value = np.nan_to_num(value, nan=self.nan_value)
        return (value - self.lo) / (self.hi - self.lo) * 2.0 - 1.0

    def inverse(self, value: np.ndarray) -> np.ndarray:
        """[-1, 1] → dataset units, float64."""
        return (value.astype(np.float64) + 1.0) / 2.0 * (self.hi - self.lo) + self.lo

    @property
    def fill(self) -> float:
        """What nodata input pixels become before scaling."""
        return self.lo if self.nan_value is None else float(self.nan_value)


def scalings_from_pipeline(pipeline: Sequence[dict]) -> Dict[str, SymmetricScaling]:
    """The :class:`SymmetricScaling` of each key (``cloudy``, ``gt``, ``sar``) that a
    pipeline's ``RescaleToSymmetric`` steps apply (first step per key wins)."""
    found = {}
    for step in pipeline:
        if step.get('type') != 'RescaleToSymmetric':
            continue
        lo, hi = step.get('in_range', (0.0, 255.0))
        scaling = SymmetricScaling(float(lo), float(hi), bool(step.get('clip', False)),
                                   step.get('nan_value'))
        for key in step.get('keys', ('cloudy', 'gt')):
            found.setdefault(key, scaling)
    return found


@TRANSFORMS.register_module()
class RescaleToSymmetric(BaseTransform):
    """Map values from ``in_range`` to [-1, 1] linearly (:class:`SymmetricScaling`).

    CUHK-CR and RICE use (0, 255) without clipping (docs/datasets.md §2.6 step 5);
    datasets that clip first (SEN12MS-CR) pass ``clip=True``. NaN becomes
    ``nan_value`` (in the input units) before scaling.
    """

    def __init__(self, keys: Sequence[str] = ('cloudy', 'gt'), in_range=(0.0, 255.0),
                 clip: bool = False, nan_value: float = None):
        self.keys = tuple(keys)
        self.scaling = SymmetricScaling(float(in_range[0]), float(in_range[1]), clip, nan_value)

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = self.scaling.forward(results[key])
        return results


@TRANSFORMS.register_module()
class PairedRandomFlip(BaseTransform):
    """Flip all keyed arrays together (DE trains with a horizontal flip, p = 0.5).

    The random draw comes from numpy's global generator, which MMEngine seeds
    per worker, so a run with a fixed seed is reproducible.
    """

    def __init__(self, keys: Sequence[str] = ('cloudy', 'gt'), prob: float = 0.5,
                 direction: str = 'horizontal'):
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.keys, self.prob, self.direction = tuple(keys), prob, direction

    def transform(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        results['flip'] = bool(flip)
        if flip:
            axis = 1 if self.direction == 'horizontal' else 0
            for key in self.keys:
                results[key] = np.ascontiguousarray(np.flip(results[key], axis=axis))
        return results
