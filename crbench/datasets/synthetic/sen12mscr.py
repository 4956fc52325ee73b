"""Synthetic SEN12MS-CR in the exact extracted layout (docs/datasets.md §4.9).

Writes, under ``<out_root>/SEN12MSCR``, the twelve ``ROIs<id>_<season>_{s1,s2,s2_cloudy}``
folders (only those of the requested scenes), ``s1_<scene>`` / ``s2_<scene>`` /
``s2_cloudy_<scene>`` subfolders and ``ROIs<id>_<season>_<mod>_<scene>_p<patch>.tif``
files with rasterio:

* S1: 2 bands (VV, VH) float32 σ⁰ in dB, multiplicative gamma speckle
  (4.4 looks), clipped to [-40, 5]; optionally a fraction of NaN pixels.
* S2 clear and cloudy: 13 bands (B1…B12) uint16 TOA reflectance × 10⁴; clear
  mostly 0–4000; clouds (thin or thick, alternating) push values above 5000 and
  cloud cores partly above 10,000.
* All three files of a triplet share a UTM CRS (EPSG:326xx) and the transform
  ``Affine(10, 0, x0, 0, -10, y0)``; nodata unset; band descriptions set.

The default scenes make every split non-empty and exercise the substring quirk
(§4.4): spring 1 (train) with spring 10 (in no list), 17 (val) and 106 (test),
which ``legacy_substring`` pulls into train.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from crbench.datasets.sen12mscr import S1_BANDS, S2_BANDS
from .marker import write_synthetic_marker
from .scenes import cloud_layer, fractal_noise, land_cover_scene

DEFAULT_SCENES: Dict[str, Tuple[int, ...]] = {
    'ROIs1158_spring': (1, 10, 17, 31, 106),
    'ROIs1868_summer': (4, 19),
    'ROIs2017_winter': (63,),
}

# Sentinel-2 bands as linear mixtures of the scene's (R, G, B, NIR) reflectance plus an
# offset: coastal/aerosol ~ blue + haze, red-edge between red and NIR, water vapour and
# cirrus low, SWIR bright over soil, dark over water. Rows follow S2_BANDS.
S2_FROM_RGBN = np.array([
    # R     G     B     NIR   offset
    [0.00, 0.00, 0.90, 0.00, 0.030],   # B1 coastal aerosol
    [0.00, 0.00, 1.00, 0.00, 0.000],   # B2 blue
    [0.00, 1.00, 0.00, 0.00, 0.000],   # B3 green
    [1.00, 0.00, 0.00, 0.00, 0.000],   # B4 red
    [0.70, 0.00, 0.00, 0.30, 0.000],   # B5 red edge 1
    [0.35, 0.00, 0.00, 0.65, 0.000],   # B6 red edge 2
    [0.10, 0.00, 0.00, 0.90, 0.000],   # B7 red edge 3
    [0.00, 0.00, 0.00, 1.00, 0.000],   # B8 NIR
    [0.02, 0.00, 0.00, 0.98, 0.000],   # B8A narrow NIR
    [0.00, 0.00, 0.00, 0.35, 0.000],   # B9 water vapour
    [0.00, 0.00, 0.00, 0.00, 0.004],   # B10 cirrus
    [0.80, 0.00, 0.00, 0.30, 0.000],   # B11 SWIR 1
    [0.70, 0.00, 0.00, 0.12, 0.000],   # B12 SWIR 2
])
# Relative brightness of a cloud per S2 band (darker in SWIR, visible in cirrus).
CLOUD_SPECTRUM = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.98, 0.97, 0.96, 0.6, 0.35, 0.75,
                           0.55])


def thirteen_band_scene(scene_rgbn: np.ndarray) -> np.ndarray:
    """Map an H×W×4 (R, G, B, NIR) reflectance scene to the 13 Sentinel-2 bands."""
    return scene_rgbn @ S2_FROM_RGBN[:, :4].T + S2_FROM_RGBN[:, 4]


def sar_backscatter(rng: np.random.Generator, scene_rgbn: np.ndarray, looks: float = 4.4,
                    nan_fraction: float = 0.0) -> np.ndarray:
    """H×W×2 σ⁰ in dB (VV, VH) with gamma speckle, derived from the land cover."""
    red, nir = scene_rgbn[..., 0], scene_rgbn[..., 3]
    water = nir < 0.06
    built = (red > 0.2) & (nir < 0.32)
    vv = -12.0 + 8.0 * (nir - 0.3)            # vegetation / soil around -12 dB
    vv = np.where(built, -4.0, vv)            # double bounce
    vv = np.where(water, -22.0, vv)           # specular water
    vh = vv - 7.0 + 2.0 * (nir - 0.3)
    out = []
    for db in (vv, vh):
        linear = 10.0 ** (db / 10.0) * rng.gamma(looks, 1.0 / looks, size=db.shape)
        out.append(10.0 * np.log10(np.maximum(linear, 1e-6)))
    sar = np.clip(np.stack(out, axis=-1), -40.0, 5.0).astype(np.float32)
    if nan_fraction > 0:
        holes = rng.random(sar.shape[:2]) < nan_fraction
        sar[holes] = np.nan
    return sar


def cloudy_s2(rng: np.random.Generator, clear13: np.ndarray, kind: str) -> np.ndarray:
    """Composite a thin or thick cloud over a 13-band reflectance scene."""
    size = clear13.shape[0]
    layer = cloud_layer(rng, size, kind, bands=13)
    level = rng.uniform(0.55, 0.75) if kind == 'thin' else rng.uniform(0.8, 1.0)
    texture = fractal_noise(rng, size, octaves=5, base_cells=6)
    # Bright cores: cloud reflectance up to ~1.3 (DN 13,000) where the cloud is dense.
    core = level * (0.85 + 0.5 * texture * layer.opacity)
    cloud = core[..., None] * CLOUD_SPECTRUM[None, None, :]
    alpha = layer.opacity[..., None]
    return clear13 * (1 - alpha) + cloud * alpha


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    return np.clip(np.round(reflectance * 10000.0), 0, 65535).astype(np.uint16)


def write_geotiff(path: str, array_hwc: np.ndarray, crs: str, transform, descriptions) -> None:
    import rasterio
    height, width, count = array_hwc.shape
    profile = dict(driver='GTiff', width=width, height=height, count=count,
                   dtype=array_hwc.dtype.name, crs=crs, transform=transform, nodata=None)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.moveaxis(array_hwc, -1, 0))
        for i, name in enumerate(descriptions, start=1):
            dst.set_band_description(i, name)


def write_sen12mscr(out_root: str, scenes: Optional[Dict[str, Sequence[int]]] = None,
                    patches_per_scene: int = 2, size: int = 256, seed: int = 0,
                    nan_fraction: float = 0.0, progress=None) -> str:
    """Write a synthetic SEN12MS-CR under ``<out_root>/SEN12MSCR`` and return that root.

    Args:
        scenes: '<ROIsXXXX>_<season>' → scene numbers (default ``DEFAULT_SCENES``).
        patches_per_scene: patches per scene; patch ids are not contiguous.
        size: patch size in pixels (256 on the real data; tests use less).
        nan_fraction: fraction of S1 pixels set to NaN.
    """
    from rasterio.transform import Affine
    scenes = DEFAULT_SCENES if scenes is None else scenes
    root = osp.join(out_root, 'SEN12MSCR')
    rng = np.random.default_rng(seed)
    count = 0
    for roi_season, numbers in scenes.items():
        for scene in numbers:
            scene_rng = np.random.default_rng((seed, int(roi_season[4:8]), int(scene)))
            zone = int(scene_rng.integers(10, 60))
            crs = f'EPSG:{32600 + zone}'
            x_base = float(scene_rng.integers(2, 7)) * 100000.0
            y_base = float(scene_rng.integers(20, 70)) * 100000.0
            patch_ids = np.sort(scene_rng.choice(np.arange(1, 40 * patches_per_scene + 1),
                                                 size=patches_per_scene, replace=False))
            folders = {}
            for mod in ('s1', 's2', 's2_cloudy'):
                folders[mod] = osp.join(root, f'{roi_season}_{mod}', f'{mod}_{scene}')
                os.makedirs(folders[mod], exist_ok=True)
            for patch in patch_ids:
                transform = Affine(10.0, 0.0, x_base + 10.0 * size * int(patch), 0.0, -10.0,
                                   y_base)
                scene4 = land_cover_scene(rng, size)
                clear13 = thirteen_band_scene(scene4)
                kind = 'thin' if count % 2 else 'thick'
                arrays = {
                    's1': sar_backscatter(rng, scene4, nan_fraction=nan_fraction),
                    's2': to_dn(clear13 + rng.normal(0, 0.002, clear13.shape)),
                    's2_cloudy': to_dn(cloudy_s2(rng, clear13, kind)),
                }
                for mod, array in arrays.items():
                    name = f'{roi_season}_{mod}_{scene}_p{int(patch)}.tif'
                    write_geotiff(osp.join(folders[mod], name), array, crs, transform,
                                  S1_BANDS if mod == 's1' else S2_BANDS)
                count += 1
                if progress is not None:
                    progress()
    write_synthetic_marker(root, dataset='SEN12MS-CR', seed=seed, size=size,
                           scenes={k: list(v) for k, v in scenes.items()},
                           patches_per_scene=patches_per_scene, nan_fraction=nan_fraction)
    return root
