"""Joint flip + 90° rotation of all frames and the target (Sen2_MTC_New training)."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS

FLIP_CODES = ('none', 'rows', 'cols')


def flip_rotate(array: np.ndarray, flip_code: int, k: int) -> np.ndarray:
    """Flip (0 none, 1 rows = vertical, 2 cols = horizontal), then rotate by k × 90°.

    ``array`` is H×W×C or T×H×W×C; the H–W plane is axes (-3, -2). The rotation
    is counter-clockwise as ``np.rot90``. This is what EMRDM/CTGAN apply to the
    C×H×W arrays of a sample (``np.flip(img, code)`` then ``np.rot90(img, k, (1, 2))``).
    """
    if flip_code == 1:
        array = np.flip(array, axis=-3)
    elif flip_code == 2:
        array = np.flip(array, axis=-2)
    elif flip_code != 0:
        raise ValueError(f'flip_code must be 0, 1 or 2, got {flip_code}')
    if k % 4:
        array = np.rot90(array, k % 4, axes=(-3, -2))
    return np.ascontiguousarray(array)


@TRANSFORMS.register_module()
class RandomFlipRotate90(BaseTransform):
    """Draw a flip code in {none, rows, cols} and k ∈ {0,1,2,3}; apply both to every key.

    All frames of a multi-temporal input and the target get the same transform.
    With an integer ``seed`` the draw comes from ``numpy.random.default_rng((seed,
    sample_idx))``: each sample always gets the same transform, whatever worker or
    read order (EMRDM also fixes one transform per sample for the whole run, but
    indexes it by a per-worker read counter, docs/datasets.md §5.6 and §7.10). With
    ``seed=None`` a fresh draw is made from numpy's global generator on every read.

    The chosen parameters are recorded as ``flip_code`` ('none'|'rows'|'cols') and
    ``rot90_k``.
    """

    def __init__(self, keys: Sequence[str] = ('cloudy', 'gt'), seed: Optional[int] = 0):
        self.keys, self.seed = tuple(keys), seed

    def draw(self, results: dict):
        if self.seed is None:
            return int(np.random.randint(3)), int(np.random.randint(4))
        if 'sample_idx' not in results:
            raise KeyError('RandomFlipRotate90 with a seed needs results["sample_idx"], which '
                           'MMEngine datasets set in get_data_info; pass seed=None when '
                           'calling the transform outside a dataset')
        rng = np.random.default_rng((int(self.seed), int(results['sample_idx'])))
        return int(rng.integers(3)), int(rng.integers(4))

    def transform(self, results: dict) -> dict:
        flip_code, k = self.draw(results)
        for key in self.keys:
            if key in results:
                results[key] = flip_rotate(results[key], flip_code, k)
        results['flip_code'], results['rot90_k'] = FLIP_CODES[flip_code], k
        if k % 2 and 'img_shape' in results:
            results['img_shape'] = tuple(results['img_shape'])[::-1]
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys}, seed={self.seed})'
