"""Synthetic RICE1 / RICE2 in the raw download layout (docs/datasets.md §3.2, §3.5).

Writes ``<out_root>/RICE_DATASET/RICE1/{cloud,label}/<n>.png`` (thin clouds) and
``RICE2/{cloud,label,mask}/<n>.png`` (thick clouds; the mask is a single-channel
PNG, 255 under cloud). Images are size×size 8-bit RGB (512 on the real data);
``rgba=True`` writes the cloudy images as RGBA to exercise alpha dropping.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image

from .cuhk import to_uint8
from .marker import write_synthetic_marker
from .scenes import cloud_layer, land_cover_scene

CLOUD_KIND = {1: 'thin', 2: 'thick'}


def write_rice(out_root: str, counts: Optional[Dict[int, int]] = None,
               ids: Optional[Dict[int, Sequence[int]]] = None, size: int = 512, seed: int = 0,
               rgba: bool = False, progress=None) -> str:
    """Write a synthetic ``RICE_DATASET`` under ``out_root`` and return its path.

    Args:
        counts: version → number of pairs, ids 0 … n-1 (default {1: 10, 2: 10}).
        ids: version → explicit file ids (overrides ``counts`` for that version).
        size: image size (512 on the real data).
        rgba: write cloudy images with an alpha channel.
    """
    counts = {1: 10, 2: 10} if counts is None else dict(counts)
    ids = dict(ids or {})
    for version in ids:
        counts.setdefault(version, len(ids[version]))
    top = osp.join(out_root, 'RICE_DATASET')
    written = {}
    for version, count in counts.items():
        if version not in CLOUD_KIND:
            raise ValueError(f'RICE version must be 1 or 2, got {version!r}')
        names = [str(i) for i in ids.get(version, range(count))]
        roles = ('cloud', 'label', 'mask') if version == 2 else ('cloud', 'label')
        folders = {r: osp.join(top, f'RICE{version}', r) for r in roles}
        for folder in folders.values():
            os.makedirs(folder, exist_ok=True)
        for name in names:
            rng = np.random.default_rng((seed, version, int(name)))
            clear = land_cover_scene(rng, size)[..., :3]
            layer = cloud_layer(rng, size, CLOUD_KIND[version], bands=3)
            cloudy = to_uint8(layer.apply(clear))
            if rgba:
                cloudy = np.concatenate([cloudy, np.full(cloudy.shape[:2] + (1,), 255,
                                                         np.uint8)], axis=2)
            Image.fromarray(cloudy).save(osp.join(folders['cloud'], f'{name}.png'))
            Image.fromarray(to_uint8(clear)).save(osp.join(folders['label'], f'{name}.png'))
            if 'mask' in folders:
                mask = np.where(layer.opacity > 0.5, 255, 0).astype(np.uint8)
                Image.fromarray(mask).save(osp.join(folders['mask'], f'{name}.png'))
            if progress is not None:
                progress()
        written[version] = names
    write_synthetic_marker(top, dataset='RICE', seed=seed, size=size,
                           counts={f'RICE{v}': len(n) for v, n in written.items()}, rgba=rgba)
    return top
