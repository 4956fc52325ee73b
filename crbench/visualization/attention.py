"""TFSA temporal attention maps of EMRDM's multi-temporal network (EMRDM Fig. 6).

``TemporalHDiT`` returns, besides the image, the temporal attention of its TFSA
block: ``attn [heads, B, T, h, w]``, for every bottleneck token a softmax over
the ``T`` acquisitions per head (the weights of one token sum to 1 over T).

* :func:`save_tfsa_attention` writes one PNG per head and sample: the ``T``
  maps side by side (time order, left to right), each upscaled ``scale`` times
  (nearest neighbour, so every token stays a visible block), on one fixed
  colour scale [0, 1] (viridis) so that panels and files are comparable.
  File name: ``<sample_id>_head<g>.png``.
* :class:`TFSAAttentionHook` calls it at test time. It records the network's
  output at every call and keeps the last one of each batch, i.e. the final
  sampling step (the lowest noise level), which is what the official code
  shows (``attns[-1]``). Config::

      custom_imports = dict(imports=['crbench.visualization.attention'])
      custom_hooks = [..., dict(type='TFSAAttentionHook', out_dir='work_dirs/attn')]
"""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from PIL import Image

from crbench.registry import HOOKS


def _colormap(values: np.ndarray, cmap: str) -> np.ndarray:
    """[0, 1] floats -> uint8 RGB through a matplotlib colormap (gray without it)."""
    values = np.clip(np.nan_to_num(values), 0.0, 1.0)
    try:
        from matplotlib import colormaps
        rgb = colormaps[cmap](values)[..., :3]
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        rgb = np.repeat(values[..., None], 3, axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def _safe_name(sample_id) -> str:
    name = re.sub(r'[^A-Za-z0-9._-]+', '_', str(sample_id)).strip('._')
    return name or 'sample'


def tfsa_attention_image(maps: torch.Tensor, scale: int = 8, gap: int = 2,
                         cmap: str = 'viridis') -> np.ndarray:
    """``maps [T, h, w]`` (one head, one sample) -> ``h*scale x (T*w*scale + (T-1)*gap) x 3``
    uint8 image; the gaps are white."""
    if maps.dim() != 3:
        raise ValueError(f'expected one head of one sample, [T, h, w]; got {tuple(maps.shape)}')
    t, h, w = maps.shape
    panels = maps.detach().float().cpu().repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    width = t * w * scale + (t - 1) * gap
    image = np.full((h * scale, width, 3), 255, dtype=np.uint8)
    for i in range(t):
        x = i * (w * scale + gap)
        image[:, x:x + w * scale] = _colormap(panels[i].numpy(), cmap)
    return image


def save_tfsa_attention(attn: torch.Tensor, out_dir: str, sample_ids: Sequence,
                        scale: int = 8, gap: int = 2, cmap: str = 'viridis') -> List[str]:
    """Save TFSA attention ``attn [heads, B, T, h, w]`` as heads x B PNG files.

    Args:
        attn: temporal attention weights in [0, 1] (``TemporalHDiT``'s second output).
        out_dir: folder (created).
        sample_ids: B names, one per sample (``metainfo['sample_id']``); characters
            other than letters, digits, ``._-`` become ``_``.
        scale: integer upscaling of every token (nearest neighbour).
        gap: white pixels between the T panels.
        cmap: matplotlib colormap; the colour scale is fixed to [0, 1].

    Returns:
        the written paths, sample-major (sample 0 head 0, sample 0 head 1, ...).
    """
    if not isinstance(attn, torch.Tensor) or attn.dim() != 5:
        shape = tuple(attn.shape) if isinstance(attn, torch.Tensor) else type(attn).__name__
        raise ValueError(f'attn must be a [heads, B, T, h, w] tensor, got {shape}')
    heads, batch = attn.shape[:2]
    sample_ids = list(sample_ids)
    if len(sample_ids) != batch:
        raise ValueError(f'{len(sample_ids)} sample ids for a batch of {batch} attention maps')
    if int(scale) != scale or scale < 1 or gap < 0:
        raise ValueError(f'scale must be a positive integer and gap >= 0, got {scale}, {gap}')
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for b, sample_id in enumerate(sample_ids):
        for g in range(heads):
            path = osp.join(out_dir, f'{_safe_name(sample_id)}_head{g:02d}.png')
            Image.fromarray(tfsa_attention_image(attn[g, b], int(scale), gap, cmap)).save(path)
            paths.append(path)
    return paths


def _network(model: torch.nn.Module) -> torch.nn.Module:
    model = getattr(model, 'module', model)  # DDP
    network = getattr(model, 'network', None)
    if network is None:
        raise AttributeError(f'TFSAAttentionHook needs a framework with a `network` (EMRDM); '
                             f'{type(model).__name__} has none')
    return network


@HOOKS.register_module()
class TFSAAttentionHook(Hook):
    """Save the TFSA attention of the last sampling step of every test batch.

    Args:
        out_dir: folder of the PNGs (see :func:`save_tfsa_attention`).
        max_samples: stop after this many samples (None: all).
        scale, gap, cmap: as in :func:`save_tfsa_attention`.
    """

    priority = 'LOW'

    def __init__(self, out_dir: str, max_samples: Optional[int] = None, scale: int = 8,
                 gap: int = 2, cmap: str = 'viridis'):
        self.out_dir, self.max_samples = out_dir, max_samples
        self.scale, self.gap, self.cmap = scale, gap, cmap
        self._handle = None
        self._last = None
        self.saved: List[str] = []
        self._samples = 0
        self._warned = False

    def _record(self, module, args, output) -> None:
        if isinstance(output, (tuple, list)) and len(output) > 1 \
                and isinstance(output[1], torch.Tensor) and output[1].dim() == 5:
            self._last = output[1].detach().cpu()

    def before_test(self, runner) -> None:
        self.saved, self._samples, self._last = [], 0, None
        self._handle = _network(runner.model).register_forward_hook(self._record)

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._last = None

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._last is None:
            if not self._warned:
                print_log('TFSAAttentionHook: the network returned no [heads, B, T, h, w] '
                          'attention (only TemporalHDiT does); nothing saved', logger='current',
                          level=30)
                self._warned = True
            return
        attn, self._last = self._last, None
        ids = [s.metainfo.get('sample_id', f'{batch_idx:05d}_{i}')
               for i, s in enumerate(outputs or [])]
        if len(ids) != attn.shape[1]:
            ids = [f'{batch_idx:05d}_{i}' for i in range(attn.shape[1])]
        if self.max_samples is not None:
            keep = max(self.max_samples - self._samples, 0)
            attn, ids = attn[:, :keep], ids[:keep]
        if ids:
            self.saved += save_tfsa_attention(attn, self.out_dir, ids, self.scale, self.gap,
                                              self.cmap)
            self._samples += len(ids)

    def after_test(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
