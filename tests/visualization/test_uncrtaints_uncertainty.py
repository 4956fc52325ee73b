"""Uncertainty maps of UnCRtainTS (crbench/visualization/uncertainty.py)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from crbench.structures import CRDataSample
from crbench.visualization.uncertainty import UncertaintyMapHook, uncertainty_image


def test_uncertainty_image_scale_and_panels():
    var = torch.zeros(3, 4, 6)
    var[:, :, 3:] = 0.5                       # right half uncertain
    img = uncertainty_image(var, vmax=0.5)
    assert img.shape == (4, 6, 3) and img.dtype == np.uint8
    # magma: 0 is near black, vmax is the bright end of the scale
    assert img[:, :3].max() < 10 and img[:, 3:].mean() > 150
    pred, gt = torch.zeros(3, 4, 6), torch.zeros(3, 4, 6)
    gt[:, :, 3:] = 0.5 ** 0.5                 # squared error 0.5 where the variance is 0.5
    both = uncertainty_image(var, pred, gt, vmax=0.5, gap=2)
    assert both.shape == (4, 14, 3) and (both[:, 6:8] == 255).all()
    assert np.array_equal(both[:, 8:], img)   # calibrated: error panel = variance panel
    with pytest.raises(ValueError, match='C×H×W'):
        uncertainty_image(torch.zeros(4, 6))


class FakeRunner:
    work_dir = None


def test_hook_writes_one_png_per_sample(tmp_path):
    runner = FakeRunner()
    runner.work_dir = str(tmp_path)
    hook = UncertaintyMapHook(max_images=3)
    hook.before_test(runner)
    samples = []
    for i in range(2):
        s = CRDataSample(metainfo=dict(sample_id=f'tile/{i}'))
        s.gt, s.pred = torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)
        s.set_field(torch.rand(3, 8, 8), 'pred_var')
        samples.append(s)
    hook.after_test_iter(runner, 0, outputs=samples)
    hook.after_test_iter(runner, 1, outputs=samples)
    files = sorted(os.listdir(tmp_path / 'uncertainty'))
    assert files == ['tile_0_uncertainty.png', 'tile_1_uncertainty.png'] and len(hook.saved) == 3
    assert Image.open(tmp_path / 'uncertainty' / files[0]).size == (20, 8)
    # a model without a variance head: nothing saved, no error
    hook2 = UncertaintyMapHook(out_dir=str(tmp_path / 'none'))
    hook2.before_test(runner)
    plain = CRDataSample()
    plain.pred = torch.zeros(3, 8, 8)
    hook2.after_test_iter(runner, 0, outputs=[plain])
    assert hook2.saved == [] and os.listdir(tmp_path / 'none') == []
