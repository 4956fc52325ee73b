"""Synthetic CUHK-CR1/CUHK-CR2 in the exact download layout (docs/datasets.md §2.9)."""
import os
import os.path as osp
from typing import Dict

import numpy as np
from PIL import Image

from ..cuhk_cr import PUBLISHED_COUNTS as CUHK_COUNTS  # real sizes; tests write far fewer
from .marker import write_synthetic_marker
from .scenes import cloud_layer, land_cover_scene

CLOUD_KIND = {'CUHK-CR1': 'thin', 'CUHK-CR2': 'thick'}
# Reflectance → 8-bit digital number, roughly how the Jilin-1 PNGs are stretched.
DN_GAIN = 600.0


def to_uint8(reflectance: np.ndarray) -> np.ndarray:
    return np.clip(np.round(reflectance * DN_GAIN), 0, 255).astype(np.uint8)


def write_cuhk(out_root: str, name: str = 'CUHK-CR2', counts: Dict[str, int] = None,
               size: int = None, seed: int = 0, progress=None) -> str:
    """Write ``<out_root>/C-CUHK/{name, nir/name}`` and return the C-CUHK folder.

    RGB files are size×size×3 uint8; NIR files are size×size×3 uint8 with three
    identical channels, as the DE code saves them. File names are ``<n>.png``
    with the same set of names in all four folders of a split.
    """
    if name not in CUHK_COUNTS:
        raise ValueError(f'name must be one of {sorted(CUHK_COUNTS)}, got {name!r}')
    counts = counts or {'train': 8, 'test': 4}
    size = size or 512  # the real CUHK-CR size
    top = osp.join(out_root, 'C-CUHK')
    rng = np.random.default_rng(seed)
    next_id = 0
    for split, count in counts.items():
        folders = {}
        for tree in ('rgb', 'nir'):
            for role in ('cloud', 'label'):
                base = osp.join(top, name) if tree == 'rgb' else osp.join(top, 'nir', name)
                folders[tree, role] = osp.join(base, split, role)
                os.makedirs(folders[tree, role], exist_ok=True)
        for _ in range(count):
            clear = land_cover_scene(rng, size)
            cloudy = cloud_layer(rng, size, CLOUD_KIND[name]).apply(clear)
            file_name = f'{next_id}.png'
            next_id += 1
            for role, image in (('label', clear), ('cloud', cloudy)):
                dn = to_uint8(image)
                Image.fromarray(dn[..., :3]).save(osp.join(folders['rgb', role], file_name))
                nir = np.repeat(dn[..., 3:4], 3, axis=2)
                Image.fromarray(nir).save(osp.join(folders['nir', role], file_name))
            if progress is not None:
                progress()
    write_synthetic_marker(top, dataset=name, seed=seed, size=size, counts=counts)
    return top
