"""Comparison images a person can look at: cloudy | prediction | target.

Small images (a 32-px synthetic test image, a 64-px crop) are enlarged by an
integer factor with nearest-neighbour repetition, so every pixel stays a visible
block and no value is interpolated; labels go in a white band above the panels.
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

MIN_PANEL = 128  # px: smaller panels are enlarged (nearest) to at least this side
LABEL_BAND = 20  # px of white above the panels when they are labelled
COMPARISON_LABELS = ('cloudy', 'prediction', 'target')


def display_bands(image: torch.Tensor, rgb_bands: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """The display bands of a C×H×W tensor as H×W×3 float (gray if C < 3)."""
    image = image.detach().float().cpu()
    rgb = image[:1].repeat(3, 1, 1) if image.shape[0] < 3 else image[list(rgb_bands)]
    return rgb.permute(1, 2, 0).numpy()


def stretch(array: np.ndarray, limits: Tuple[float, float]) -> np.ndarray:
    lo, hi = limits
    array = np.clip((array - lo) / max(hi - lo, 1e-6), 0, 1)
    return (np.nan_to_num(array) * 255).round().astype(np.uint8)


def enlarge_factor(height: int, width: int, min_side: int = MIN_PANEL) -> int:
    """The smallest integer factor that brings the shorter side to ``min_side`` (>= 1)."""
    return max(1, math.ceil(min_side / max(1, min(height, width))))


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of an H×W(×C) array by an integer factor."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def label_band(width: int, labels: Sequence[str], centres: Sequence[float],
               height: int = LABEL_BAND) -> np.ndarray:
    """A white ``height`` × ``width`` × 3 band with each label centred at its x position."""
    from PIL import Image, ImageDraw, ImageFont
    band = Image.new('RGB', (width, height), 'white')
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default(size=max(8, height - 6))
    for text, centre in zip(labels, centres):
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = int(round(centre - (right - left) / 2))
        y = (height - (bottom - top)) // 2 - top
        draw.text((max(0, x), y), text, fill='black', font=font)
    return np.asarray(band)


def comparison_grid(panels: Sequence[torch.Tensor], rgb_bands: Sequence[int] = (0, 1, 2),
                    percentiles: Tuple[float, float] = (1.0, 99.0), gap: int = 4,
                    limits: Optional[Tuple[float, float]] = None,
                    labels: Optional[Sequence[str]] = None,
                    min_panel: int = 0) -> np.ndarray:
    """Panels (C×H×W tensors in [-1, 1]) side by side as one H×W×3 uint8 image.

    All panels share one linear stretch, taken from the last panel (the target)
    by percentiles, so that brightness differences between them stay visible;
    the stretch makes dark scenes (Sentinel-2 is mostly below 0.2) readable.
    ``min_panel``: enlarge every panel by one integer factor (nearest) until the
    smallest is at least that many pixels (0: as they are). ``labels``: one per
    panel, written above it.
    """
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f'{len(labels)} labels for {len(panels)} panels')
    arrays = [display_bands(p, rgb_bands) for p in panels]
    if limits is None:
        limits = tuple(np.nanpercentile(arrays[-1], percentiles))
    images = [stretch(a, limits) for a in arrays]
    if min_panel:
        factor = enlarge_factor(min(im.shape[0] for im in images),
                                min(im.shape[1] for im in images), min_panel)
        images = [enlarge(im, factor) for im in images]
    height = max(im.shape[0] for im in images)
    width = sum(im.shape[1] for im in images) + gap * (len(images) - 1)
    grid = np.full((height, width, 3), 255, dtype=np.uint8)
    x, centres = 0, []
    for im in images:
        grid[:im.shape[0], x:x + im.shape[1]] = im
        centres.append(x + im.shape[1] / 2)
        x += im.shape[1] + gap
    if labels:
        grid = np.concatenate([label_band(width, labels, centres), grid], axis=0)
    return grid
