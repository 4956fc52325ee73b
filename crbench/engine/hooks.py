"""Hooks crbench adds to the MMEngine Runner."""
import os
import os.path as osp

from mmengine.hooks import Hook
from PIL import Image

from crbench.registry import HOOKS
from crbench.visualization.grids import COMPARISON_LABELS, MIN_PANEL, comparison_grid


@HOOKS.register_module()
class ComparisonImageHook(Hook):
    """Save ``cloudy | prediction | target`` PNGs for the first test images.

    Panels are labelled and small images enlarged (nearest) to at least
    ``MIN_PANEL`` pixels (``crbench.visualization.grids``).

    Multi-temporal inputs show their first frame. Files are named by sample id;
    frameworks that predict an attention or cloud-mask map (``aux_map``: SpA-GAN,
    AMGAN-CR) also get ``<id>_attention.png`` beside the comparison.
    """

    def __init__(self, out_dir: str, max_images: int = 8, rgb_bands=(0, 1, 2)):
        self.out_dir, self.max_images, self.rgb_bands = out_dir, max_images, tuple(rgb_bands)
        self.saved = 0

    def before_test(self, runner) -> None:
        self.saved = 0
        os.makedirs(self.out_dir, exist_ok=True)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs is None or self.saved >= self.max_images:
            return
        cloudy_batch = data_batch['inputs']
        cloudy_batch = cloudy_batch['cloudy'] if isinstance(cloudy_batch, dict) else cloudy_batch
        for cloudy, sample in zip(cloudy_batch, outputs):
            if self.saved >= self.max_images:
                return
            if cloudy.dim() == 4:  # T×C×H×W: show the first acquisition
                cloudy = cloudy[0]
            gt = sample.gt.cpu()
            cloudy = cloudy[:gt.shape[0]] if cloudy.shape[0] > gt.shape[0] else cloudy
            grid = comparison_grid([cloudy, sample.pred.cpu(), gt], rgb_bands=self.rgb_bands,
                                   labels=COMPARISON_LABELS, min_panel=MIN_PANEL)
            name = str(sample.metainfo.get('sample_id', f'{batch_idx:05d}'))
            Image.fromarray(grid).save(osp.join(self.out_dir, f'{name}.png'))
            if 'aux_map' in sample:  # SpA-GAN attention / AMGAN-CR mask, min-max stretched
                aux = sample.aux_map[0].float().cpu()
                aux = (aux - aux.min()) / (aux.max() - aux.min()).clamp_min(1e-8)
                Image.fromarray((aux.numpy() * 255).round().astype('uint8')).save(
                    osp.join(self.out_dir, f'{name}_attention.png'))
            self.saved += 1


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Carry the global random generators' state in every checkpoint.

    Frameworks draw diffusion times, noise and GP interpolation factors from
    torch's global generator; MMEngine checkpoints do not store its state and
    only re-seed on resume when the seed changed, so a resumed run would draw
    different numbers than an uninterrupted one. The state (torch CPU and CUDA,
    numpy, Python ``random``) saved with iteration k's checkpoint is put back
    at the first training iteration after the resume, after the data loader has
    been restored, which makes resume bit-exact.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self.pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        import random

        import numpy as np
        import torch
        checkpoint['random_state'] = dict(
            torch=torch.get_rng_state(), numpy=np.random.get_state(), python=random.getstate(),
            cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # runner.train_loop would build the train loop (and the train dataset) on
        # access; a test run has none built, and may have no train data at all.
        from mmengine.runner import BaseLoop
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop) and isinstance(
                checkpoint, dict):
            self.pending = checkpoint.get('random_state')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.pending is None:
            return
        import random

        import numpy as np
        import torch
        state, self.pending = self.pending, None
        torch.set_rng_state(state['torch'])
        np.random.set_state(state['numpy'])
        random.setstate(state['python'])
        if state.get('cuda') is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
