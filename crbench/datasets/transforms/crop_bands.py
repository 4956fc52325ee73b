"""Paired random crops and per-band rescaling of H×W×C (or T×H×W×C) arrays.

GLF-CR and DSen2-CR train on random 128×128 crops of the 256×256 SEN12MS-CR patches, the same
window in the cloudy, SAR and clear images, and scale each SAR band by its own dB range
(VV [-25, 0], VH [-32.5, 0]); :class:`RescaleToSymmetric` has one range per key.
"""
from collections import Counter
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS
from .processing import SymmetricScaling


def crop_georeference(results: dict, top: int, left: int, height: int, width: int) -> None:
    """Move a GeoTIFF ``transform`` (a, b, c, d, e, f) and ``bounds`` to the crop."""
    if results.get('transform') is None:
        return
    a, b, c, d, e, f = results['transform'][:6]
    c, f = a * left + b * top + c, d * left + e * top + f
    results['transform'] = (a, b, c, d, e, f)
    xs = [c + a * col + b * row for col in (0, width) for row in (0, height)]
    ys = [f + d * col + e * row for col in (0, width) for row in (0, height)]
    results['bounds'] = (min(xs), min(ys), max(xs), max(ys))


def _grid(array: np.ndarray) -> Tuple[int, int]:
    """H, W of an H×W, H×W×C or T×H×W×C array."""
    return tuple(array.shape[:2] if array.ndim <= 3 else array.shape[-3:-1])


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Crop the same ``size`` window out of every keyed array (H×W×C, or T×H×W×C: every
    frame gets the window). Images smaller than ``size`` are an error naming the key and
    the sample.

    Offsets are uniform over all positions, 0 … H − size. ``last_offset=False`` leaves out
    the window flush with the bottom/right edge, 0 … H − size − 1, as the official DSen2-CR
    generator does (ameraner/dsen2-cr, Code/tools/dataIO.py, ``DataGenerator``: offsets
    ``randint(0, crop_size)`` for 256 → 128 crops); an image of exactly ``size`` then
    passes unchanged.

    With a ``seed`` (default), the window of the n-th visit of a sample is drawn from
    ``numpy.random.default_rng((seed, sample_idx, n))``: a new window at every visit, and the
    same sequence when MMEngine resumes (it replays the skipped batches through the
    pipeline, so the visit counts are rebuilt, also in loader workers). ``seed=None`` draws
    from numpy's global generator instead.
    """

    def __init__(self, size, keys: Sequence[str] = ('cloudy', 'sar', 'gt'),
                 seed: Optional[int] = 0, last_offset: bool = True):
        self.size: Tuple[int, int] = (int(size), int(size)) if np.isscalar(size) else tuple(size)
        self.keys, self.seed, self.last_offset = tuple(keys), seed, bool(last_offset)
        self._visits = Counter()

    def draw(self, results: dict, rows: int, cols: int) -> Tuple[int, int]:
        if self.seed is None:
            return int(np.random.randint(rows)), int(np.random.randint(cols))
        if 'sample_idx' not in results:
            raise KeyError('PairedRandomCrop with a seed needs results["sample_idx"], which '
                           'MMEngine datasets set; pass seed=None outside a dataset')
        idx = int(results['sample_idx'])
        rng = np.random.default_rng((int(self.seed), idx, self._visits[idx]))
        self._visits[idx] += 1
        return int(rng.integers(rows)), int(rng.integers(cols))

    def transform(self, results: dict) -> dict:
        present = [k for k in self.keys if k in results]
        if not present:
            raise KeyError(f'PairedRandomCrop: none of the keys {self.keys} is in the sample')
        h, w = _grid(results[present[0]])
        ch, cw = self.size
        for key in present:
            if _grid(results[key]) != (h, w):
                raise ValueError(f'PairedRandomCrop: {key!r} is {_grid(results[key])} but '
                                 f'{present[0]!r} is {(h, w)} in sample '
                                 f'{results.get("sample_id", "?")}')
        if h < ch or w < cw:
            raise ValueError(f'PairedRandomCrop: sample {results.get("sample_id", "?")} is '
                             f'{h}×{w}, smaller than the crop {ch}×{cw}')
        if self.last_offset:
            rows, cols = h - ch + 1, w - cw + 1
        else:
            rows, cols = max(h - ch, 1), max(w - cw, 1)
        top, left = self.draw(results, rows, cols)
        for key in present:
            window = (slice(top, top + ch), slice(left, left + cw))
            if results[key].ndim > 3:
                window = (Ellipsis, *window, slice(None))
            results[key] = np.ascontiguousarray(results[key][window])
        results['img_shape'] = (ch, cw)
        results['crop_box'] = (int(top), int(left), ch, cw)
        crop_georeference(results, top, left, ch, cw)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(size={self.size}, keys={self.keys}, seed={self.seed}, '
                f'last_offset={self.last_offset})')


@TRANSFORMS.register_module()
class RescaleBandsToSymmetric(BaseTransform):
    """Map each band of ``key`` from its own range to [-1, 1] (:class:`SymmetricScaling`
    per band: optional clip, then NaN → ``nan_values[band]`` in input units)."""

    def __init__(self, key: str, in_ranges: Sequence[Sequence[float]], clip: bool = True,
                 nan_values: Sequence[float] = None):
        nan_values = [None] * len(in_ranges) if nan_values is None else list(nan_values)
        if len(nan_values) != len(in_ranges):
            raise ValueError(f'RescaleBandsToSymmetric: {len(in_ranges)} in_ranges but '
                             f'{len(nan_values)} nan_values')
        self.key = key
        self.scalings = [SymmetricScaling(float(lo), float(hi), clip, nan)
                         for (lo, hi), nan in zip(in_ranges, nan_values)]

    def transform(self, results: dict) -> dict:
        value = results[self.key]
        if value.ndim != 3 or value.shape[-1] != len(self.scalings):
            raise ValueError(f'RescaleBandsToSymmetric: {self.key!r} has shape {value.shape}, '
                             f'expected H×W×{len(self.scalings)} (one range per band)')
        results[self.key] = np.stack([s.forward(value[..., i]) for i, s in enumerate(self.scalings)],
                                     axis=-1)
        return results
