"""Test-time figures of DE's sampling: W heat map (Fig. 8), W per step (Fig. 9), x0 (Fig. 4).

Enable it with a config that adds it to ``custom_hooks`` (MMEngine's
``--cfg-options`` cannot append a dict to a list), e.g. ``de_vis.py`` at the
repository root::

    _base_ = ['configs/de/de_memorynet_rice2.py']
    custom_hooks = [dict(type='NonFiniteLossHook', policy='stop'),
                    dict(type='DEVisualizationHook', out_dir='work_dirs/de_vis')]

    python tools/test.py de_vis.py CKPT

The figures cost one more sampling run of each batch's first images (until
``max_images`` are saved).
"""
import os

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from crbench.registry import HOOKS


@HOOKS.register_module()
class DEVisualizationHook(Hook):
    """Re-run the DE sampler on the first ``max_images`` test images and save its figures.

    For each image, in ``out_dir``: ``<id>_w_heatmap.png`` (W at the final
    step, DE Fig. 8), ``<id>_w_per_step.png`` / ``.csv`` (mean W per sampling
    step, DE Fig. 9) and ``<id>_trajectory.png`` (x_{0,t} at
    ``trajectory_steps`` steps, DE Fig. 4); see
    ``crbench/visualization/diffusion.py``. The model's public ``sample`` runs
    once more per batch (on the images still needed), seeded with the model's
    ``sampling_seed`` or ``seed``: with ``sampling_seed`` and a deterministic
    sampler the figures show the run that produced the test prediction.
    Models without ``sample`` (not diffusion) are skipped with a warning.
    """

    priority = 'LOW'

    def __init__(self, out_dir: str, max_images: int = 4, trajectory_steps: int = 6,
                 rgb_bands=(0, 1, 2), per_band: bool = False, seed: int = 0):
        if max_images < 0 or trajectory_steps < 1:
            raise ValueError(f'need max_images >= 0 and trajectory_steps >= 1, got '
                             f'{max_images}, {trajectory_steps}')
        self.out_dir, self.max_images = out_dir, max_images
        self.trajectory_steps, self.rgb_bands = trajectory_steps, tuple(rgb_bands)
        self.per_band, self.seed = per_band, seed
        self.saved = 0
        self.written = []
        self._warned = False

    def before_test(self, runner) -> None:
        self.saved = 0
        self.written = []
        os.makedirs(self.out_dir, exist_ok=True)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.saved >= self.max_images or data_batch is None:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not callable(getattr(model, 'sample', None)):
            if not self._warned:
                runner.logger.warning(f'DEVisualizationHook: {type(model).__name__} has no '
                                      '`sample` (not a diffusion framework); no figures')
                self._warned = True
            return
        from crbench.visualization.diffusion import visualize_de_sampling
        data = model.data_preprocessor(data_batch, False)
        inputs = data['inputs']
        cloudy = inputs['cloudy'] if isinstance(inputs, dict) else inputs
        if cloudy.dim() == 5 and cloudy.shape[1] == 1:  # T = 1 of a multi-temporal dataset
            cloudy = cloudy[:, 0]
        samples = outputs if outputs is not None else (data.get('data_samples') or [])
        n = min(self.max_images - self.saved, cloudy.shape[0])
        names, gts = [], []
        for i in range(n):
            sample = samples[i] if i < len(samples) else None
            meta = sample.metainfo if sample is not None else {}
            names.append(str(meta.get('sample_id', f'{batch_idx:05d}_{i}')))
            gts.append(sample.gt if sample is not None and 'gt' in sample else None)
        band_names = meta.get('band_names') if n else None
        with torch.no_grad():
            self.written += visualize_de_sampling(
                model, cloudy[:n], self.out_dir, names, gts,
                trajectory_steps=self.trajectory_steps, rgb_bands=self.rgb_bands,
                per_band=self.per_band, band_names=band_names, seed=self.seed)
        self.saved += n
