"""Procedural land-cover scenes and clouds for synthetic datasets.

Synthetic data exists so that tests and the demo run the real loaders on the
real on-disk layouts without downloading anything. The scenes are not meant to
be realistic imagery, only to exercise what a cloud-removal model meets:
spatially structured surface reflectance, per-band differences (vegetation is
bright in NIR), and clouds that are thin (partly transparent) or thick.
Everything is deterministic given a ``numpy.random.Generator``.
"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def fractal_noise(rng: np.random.Generator, size: int, octaves: int = 5,
                  base_cells: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Smooth multi-octave noise in [0, 1], shape size×size."""
    total = np.zeros((size, size), dtype=np.float64)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        grid = torch.from_numpy(rng.standard_normal((1, 1, cells + 1, cells + 1)))
        layer = F.interpolate(grid, size=(size, size), mode='bicubic', align_corners=True)
        total += amplitude * layer[0, 0].numpy()
        norm += amplitude
        amplitude *= persistence
    total /= norm
    lo, hi = total.min(), total.max()
    return (total - lo) / max(hi - lo, 1e-12)


# Reflectance (0–1) of a few cover types in R, G, B, NIR.
COVER_TYPES = np.array([
    [0.05, 0.09, 0.04, 0.45],   # forest
    [0.09, 0.14, 0.06, 0.38],   # cropland
    [0.22, 0.19, 0.15, 0.28],   # bare soil
    [0.03, 0.05, 0.08, 0.02],   # water
    [0.25, 0.24, 0.23, 0.26],   # built-up
])


def land_cover_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """Surface reflectance in [0, 1], size×size×4 (R, G, B, NIR)."""
    selector = fractal_noise(rng, size, octaves=4, base_cells=3)
    texture = fractal_noise(rng, size, octaves=6, base_cells=8)
    edges = np.quantile(selector, np.linspace(0, 1, len(COVER_TYPES) + 1)[1:-1])
    classes = np.digitize(selector, edges)
    order = rng.permutation(len(COVER_TYPES))
    scene = COVER_TYPES[order[classes]]
    scene = scene * (0.8 + 0.4 * texture[..., None])
    # A few straight roads give sharp edges the models must keep.
    for _ in range(rng.integers(1, 4)):
        row = rng.integers(0, size)
        width = max(1, size // 128)
        if rng.random() < 0.5:
            scene[row:row + width] = COVER_TYPES[4] * 1.1
        else:
            scene[:, row:row + width] = COVER_TYPES[4] * 1.1
    return np.clip(scene, 0.0, 1.0)


@dataclass
class CloudLayer:
    """Cloud opacity in [0, 1] (H×W) and the cloud's own reflectance per band."""
    opacity: np.ndarray
    brightness: np.ndarray

    def apply(self, scene: np.ndarray) -> np.ndarray:
        alpha = self.opacity[..., None]
        return scene * (1 - alpha) + self.brightness[None, None, :] * alpha


def cloud_layer(rng: np.random.Generator, size: int, kind: str, bands: int = 4) -> CloudLayer:
    """A thin (hazy, at most ~55 % opaque) or thick (opaque cores) cloud field."""
    if kind not in ('thin', 'thick'):
        raise ValueError(f"cloud kind must be 'thin' or 'thick', got {kind!r}")
    noise = fractal_noise(rng, size, octaves=6, base_cells=3)
    cover = rng.uniform(0.3, 0.7)  # fraction of the image under cloud
    threshold = np.quantile(noise, 1 - cover)
    density = np.clip((noise - threshold) / max(1 - threshold, 1e-6), 0, 1)
    if kind == 'thin':
        opacity = 0.15 + 0.4 * density ** 0.7
    else:
        opacity = np.clip(1.6 * density ** 0.5, 0, 1)
    brightness = rng.uniform(0.75, 0.95) * np.ones(bands)
    return CloudLayer(opacity=opacity.astype(np.float64), brightness=brightness)
