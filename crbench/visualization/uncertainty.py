"""Aleatoric uncertainty maps of frameworks that predict a variance (UnCRtainTS).

``UncertaintyRestorer.predict`` writes ``pred_var`` (per band, crbench's [-1, 1] units
squared) into every data sample. :class:`UncertaintyMapHook` saves, for the first test
images, ``<sample_id>_uncertainty.png``: the band-averaged variance (what the official code
logs as "aleatoric") on one colour scale [0, ``vmax``] (magma; fixed, so maps of different
images and models are comparable), next to the squared error of the prediction averaged
over bands on the same scale (what a calibrated variance predicts), so that calibration
can be judged by eye::

    custom_hooks = [..., dict(type='UncertaintyMapHook', max_images=8)]
"""
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from PIL import Image

from crbench.registry import HOOKS
from .attention import _colormap, _safe_name


def uncertainty_image(var: torch.Tensor, pred: Optional[torch.Tensor] = None,
                      gt: Optional[torch.Tensor] = None, vmax: Optional[float] = None,
                      gap: int = 4, cmap: str = 'magma') -> np.ndarray:
    """``var [C, H, W]`` -> H×W×3 uint8 (or H×(2W+gap)×3 with the (pred − gt)² panel).

    The variance panel shows the band mean of ``var`` on [0, vmax]; without ``vmax`` the
    95th percentile of the map (an image-relative scale). The error panel shows the band
    mean of ``(pred − gt)²`` on the same scale, i.e. what a calibrated variance predicts.
    """
    if var.dim() != 3:
        raise ValueError(f'expected a C×H×W variance, got {tuple(var.shape)}')
    avg = var.detach().float().cpu().mean(dim=0).numpy()
    if vmax is None:
        vmax = float(np.quantile(avg, 0.95)) or 1.0
    panels = [_colormap(avg / vmax, cmap)]
    if pred is not None and gt is not None:
        err = ((pred.detach().float().cpu() - gt.detach().float().cpu()) ** 2).mean(dim=0).numpy()
        spacer = np.full((avg.shape[0], gap, 3), 255, dtype=np.uint8)
        panels += [spacer, _colormap(err / vmax, cmap)]
    return np.concatenate(panels, axis=1)


@HOOKS.register_module()
class UncertaintyMapHook(Hook):
    """Save ``<sample_id>_uncertainty.png`` (variance | squared error) at test time.

    Args:
        out_dir: folder of the PNGs (default ``<work_dir>/uncertainty``).
        max_images: stop after this many samples.
        vmax: upper end of the colour scale in crbench's [-1, 1] units squared (None: each
            map's 95th percentile).
        with_error: add the squared-error panel (needs ``gt``).
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None, max_images: int = 8,
                 vmax: Optional[float] = None, with_error: bool = True, cmap: str = 'magma'):
        self.out_dir, self.max_images, self.vmax = out_dir, max_images, vmax
        self.with_error, self.cmap = with_error, cmap
        self.saved = []
        self._warned = False

    def before_test(self, runner) -> None:
        self.saved = []
        self.out_dir = self.out_dir or osp.join(runner.work_dir, 'uncertainty')
        os.makedirs(self.out_dir, exist_ok=True)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        for i, sample in enumerate(outputs or []):
            if len(self.saved) >= self.max_images:
                return
            if 'pred_var' not in sample:
                if not self._warned:
                    print_log('UncertaintyMapHook: the model predicts no variance (pred_var); '
                              'use UncertaintyRestorer with a variance head. Nothing saved.',
                              logger='current', level=30)
                    self._warned = True
                return
            gt = sample.gt if self.with_error and 'gt' in sample else None
            image = uncertainty_image(sample.pred_var, sample.pred if gt is not None else None,
                                      gt, self.vmax, cmap=self.cmap)
            name = _safe_name(sample.metainfo.get('sample_id', f'{batch_idx:05d}_{i}'))
            path = osp.join(self.out_dir, f'{name}_uncertainty.png')
            Image.fromarray(image).save(path)
            self.saved.append(path)
