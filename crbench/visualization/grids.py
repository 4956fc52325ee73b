"""Comparison images a person can look at: cloudy | prediction | target."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch


def display_bands(image: torch.Tensor, rgb_bands: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """The display bands of a C×H×W tensor as H×W×3 float (gray if C < 3)."""
    image = image.detach().float().cpu()
    rgb = image[:1].repeat(3, 1, 1) if image.shape[0] < 3 else image[list(rgb_bands)]
    return rgb.permute(1, 2, 0).numpy()


def stretch(array: np.ndarray, limits: Tuple[float, float]) -> np.ndarray:
    lo, hi = limits
    array = np.clip((array - lo) / max(hi - lo, 1e-6), 0, 1)
    return (np.nan_to_num(array) * 255).round().astype(np.uint8)


def comparison_grid(panels: Sequence[torch.Tensor], rgb_bands: Sequence[int] = (0, 1, 2),
                    percentiles: Tuple[float, float] = (1.0, 99.0), gap: int = 4,
                    limits: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Panels (C×H×W tensors in [-1, 1]) side by side as one H×W×3 uint8 image.

    All panels share one linear stretch, taken from the last panel (the target)
    by percentiles, so that brightness differences between them stay visible;
    the stretch makes dark scenes (Sentinel-2 is mostly below 0.2) readable.
    """
    arrays = [display_bands(p, rgb_bands) for p in panels]
    if limits is None:
        limits = tuple(np.nanpercentile(arrays[-1], percentiles))
    images = [stretch(a, limits) for a in arrays]
    height = max(im.shape[0] for im in images)
    width = sum(im.shape[1] for im in images) + gap * (len(images) - 1)
    grid = np.full((height, width, 3), 255, dtype=np.uint8)
    x = 0
    for im in images:
        grid[:im.shape[0], x:x + im.shape[1]] = im
        x += im.shape[1] + gap
    return grid
