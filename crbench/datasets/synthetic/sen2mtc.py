"""Synthetic Sen2_MTC_New in the exact extracted layout (docs/datasets.md §5.8).

Writes ``<out_root>/Sen2_MTC_New/{train,val,test}.txt`` and, for every tile,
``Sen2_MTC/<TILE>/cloudless/<TILE>_<k>.tif`` plus
``Sen2_MTC/<TILE>/cloud/<TILE>_<k>_{0,1,2}.tif``: pixel-interleaved H×W×4 uint16
TIFFs (R, G, B, NIR), DN = reflectance × 10⁴. Clear images are mostly below 2000
in RGB; each cloudy date gets its own thin or thick cloud (3000–10,000, a few
cores slightly above 10,000, which the loader must not clip).
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from .marker import write_synthetic_marker
from .scenes import cloud_layer, land_cover_scene

DEFAULT_TILES = {
    'train': ('T12TUR_R027', 'T21MUR_R010'),
    'val': ('T34TDT_R036', 'T15UVU_R012'),
    'test': ('T31TBG_R051', 'T41UNR_R020'),
}


def write_tiff_hwc(path: str, array: np.ndarray) -> None:
    import tifffile
    tifffile.imwrite(path, array, photometric='minisblack', planarconfig='contig')


def write_sen2mtc(out_root: str, tiles: Optional[Dict[str, Sequence[str]]] = None,
                  images_per_tile: int = 2, size: int = 256, seed: int = 0,
                  progress=None) -> str:
    """Write a synthetic Sen2_MTC_New under ``<out_root>/Sen2_MTC_New`` and return it.

    Args:
        tiles: split → tile names (default ``DEFAULT_TILES``, two per split; a
            split with one tile gives a one-line list file).
        images_per_tile: samples per tile (``k`` = 1 … n).
        size: image size (256 on the real data).
    """
    tiles = DEFAULT_TILES if tiles is None else tiles
    root = osp.join(out_root, 'Sen2_MTC_New')
    os.makedirs(root, exist_ok=True)
    for split, names in tiles.items():
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.write(''.join(f'{t}\n' for t in names))
        for t_index, tile in enumerate(names):
            clear_dir = osp.join(root, 'Sen2_MTC', tile, 'cloudless')
            cloud_dir = osp.join(root, 'Sen2_MTC', tile, 'cloud')
            os.makedirs(clear_dir, exist_ok=True)
            os.makedirs(cloud_dir, exist_ok=True)
            for k in range(1, images_per_tile + 1):
                rng = np.random.default_rng((seed, sum(map(ord, tile)), t_index, k))
                clear = land_cover_scene(rng, size) * 0.8
                write_tiff_hwc(osp.join(clear_dir, f'{tile}_{k}.tif'), to_dn(clear))
                for j in range(3):
                    kind = 'thick' if rng.random() < 0.5 else 'thin'
                    layer = cloud_layer(rng, size, kind, bands=4)
                    layer.brightness = rng.uniform(0.3, 1.02) * np.ones(4)
                    write_tiff_hwc(osp.join(cloud_dir, f'{tile}_{k}_{j}.tif'),
                                   to_dn(layer.apply(clear)))
                if progress is not None:
                    progress()
    write_synthetic_marker(root, dataset='Sen2_MTC_New', seed=seed, size=size,
                           tiles={k: list(v) for k, v in tiles.items()},
                           images_per_tile=images_per_tile)
    return root


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    return np.clip(np.round(reflectance * 10000.0), 0, 65535).astype(np.uint16)
