"""Reading image files with errors that name the file and say what to do."""
import os.path as osp
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS


class ImageReadError(RuntimeError):
    """An image file is missing, unreadable or not what the dataset expects."""


def read_png(path: str) -> np.ndarray:
    """Read a PNG/JPEG as an H×W×C uint8 array (grayscale gets C = 1)."""
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        raise ImageReadError(f'image file {path!r} does not exist')
    try:
        with Image.open(path) as img:
            img.load()
            array = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ImageReadError(
            f'cannot decode {path!r} ({err}); the file is corrupt or not an image: '
            're-extract it from the dataset archive') from None
    if array.ndim == 2:
        array = array[:, :, None]
    return array


def read_band_stack(paths: Sequence[str], bands_per_file: Sequence[Sequence[int]]) -> np.ndarray:
    """Read several files and stack the chosen bands of each: H×W×ΣC float32.

    ``bands_per_file[i]`` lists the channel indices taken from ``paths[i]``;
    every file must have those channels and the same height and width.
    """
    stacked, shape = [], None
    for path, bands in zip(paths, bands_per_file):
        array = read_png(path)
        if array.shape[2] <= max(bands):
            raise ImageReadError(
                f'{path!r} has {array.shape[2]} channel(s) but band index {max(bands)} is '
                'needed; check that the file belongs to this dataset (RGB files need 3 '
                'channels, NIR files at least 1)')
        if shape is not None and array.shape[:2] != shape:
            raise ImageReadError(
                f'{path!r} is {array.shape[1]}×{array.shape[0]} pixels but {paths[0]!r} is '
                f'{shape[1]}×{shape[0]}; the files of one sample must have the same size')
        shape = array.shape[:2]
        stacked.append(array[:, :, list(bands)].astype(np.float32))
    return np.concatenate(stacked, axis=2)


@TRANSFORMS.register_module()
class LoadImageBands(BaseTransform):
    """Load image files and stack their bands into named H×W×C float arrays.

    Args:
        sources: maps an output key (``'cloudy'``, ``'gt'``) to a list of
            ``(path_key, band_indices)``: the result key holding a file path and
            the channels taken from that file. CUHK-CR 4-band input, for
            example, is ``[('cloudy_path', [0, 1, 2]), ('cloudy_nir_path', [0])]``.
    """

    def __init__(self, sources: dict):
        self.sources = {key: [(p, list(b)) for p, b in spec] for key, spec in sources.items()}

    def transform(self, results: dict) -> dict:
        for key, spec in self.sources.items():
            paths = [results[p] for p, _ in spec]
            results[key] = read_band_stack(paths, [b for _, b in spec])
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(sources={self.sources})'


@TRANSFORMS.register_module()
class LoadCloudMask(BaseTransform):
    """Load a cloud mask (RICE2's ``mask/`` PNGs) as ``mask``: H×W×1, 1 = cloud.

    Placed after any resize of the images: the mask is resampled to the
    images' current size with nearest neighbour, so it stays binary. Samples
    without a mask file (``path_key`` absent) pass unchanged, and the metric
    then reports no cloudy/clear split for them.
    """

    def __init__(self, path_key: str = 'cloud_mask_path', threshold: float = 127.5):
        self.path_key, self.threshold = path_key, threshold

    def transform(self, results: dict) -> dict:
        path = results.get(self.path_key)
        if not path:
            return results
        from PIL import Image
        mask = read_png(path)[:, :, 0]
        height, width = results['gt'].shape[:2]
        if mask.shape != (height, width):
            mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.NEAREST))
        results['mask'] = (mask > self.threshold).astype(np.float32)[:, :, None]
        return results
