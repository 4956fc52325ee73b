"""Resizing, scaling and augmentation of H×W×C float arrays."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS
from .matlab_resize import matlab_imresize


@TRANSFORMS.register_module()
class MatlabResize(BaseTransform):
    """MATLAB-compatible antialiased bicubic resize (DATA_FORMATS.md §2.6 step 3).

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


@TRANSFORMS.register_module()
class RescaleToSymmetric(BaseTransform):
    """Map values from ``in_range`` to [-1, 1] linearly: v ↦ 2 (v - lo) / (hi - lo) - 1.

    CUHK-CR and RICE use (0, 255) without clipping (DATA_FORMATS.md §2.6 step 5);
    datasets that clip first (SEN12MS-CR) pass ``clip=True``. NaN becomes
    ``nan_value`` (in the input units) before scaling.
    """

    def __init__(self, keys: Sequence[str] = ('cloudy', 'gt'), in_range=(0.0, 255.0),
                 clip: bool = False, nan_value: float = None):
        self.keys, self.lo, self.hi = tuple(keys), float(in_range[0]), float(in_range[1])
        self.clip, self.nan_value = clip, nan_value

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            value = results[key].astype(np.float32)
            if self.clip:
                value = np.clip(value, self.lo, self.hi)
            if self.nan_value is not None:
                value = np.nan_to_num(value, nan=self.nan_value)
            results[key] = (value - self.lo) / (self.hi - self.lo) * 2.0 - 1.0
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
