"""DE sampling figures (DE Figs. 4, 8, 9) and the DEVisualizationHook, on a tiny DE model."""
import csv
import logging
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from crbench.models.data_preprocessor import CRDataPreprocessor
from crbench.registry import HOOKS, MODELS
from crbench.structures import CRDataSample
from crbench.visualization.diffusion import (DESamplingRecorder, recover_x0_eps,
                                             trajectory_indices, visualize_de_sampling)

STEPS, SIZE, ETA = 8, 16, 0.3
TINY = dict(model_channels=16, channel_mult=(1, 2), norm_groups=8, attention_downsample=(2,))


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@MODELS.register_module(name='DEVisTestReference', force=True)
class TinyReference(nn.Module):
    def __init__(self, bands: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(bands, bands, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture(scope='module')
def ref_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ref') / 'reference.pth'
    torch.save({'state_dict': {f'generator.{k}': v
                               for k, v in TinyReference().state_dict().items()}}, path)
    return str(path)


def build(ref_ckpt, fusion='wa', **kw):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='DiffusionEnhancement', cnp=dict(type='DECNP', num_bands=4, num_heads=2, **TINY),
        weight_net=dict(type='DEWeightNet', num_bands=4, **TINY),
        reference=dict(type='DEVisTestReference'), reference_checkpoint=ref_ckpt,
        fusion=fusion, stage=3 if fusion == 'wa' else 1, eta_limit=ETA,
        sampler=dict(type='DDIMSampler', num_steps=STEPS),
        data_preprocessor=CRDataPreprocessor(), **kw))
    if model.weight_net is not None:
        # the WA output layer starts at zero (W = 0 → clamped to η everywhere); give it
        # weights so that W varies over pixels, steps and both sides of the clamp
        with torch.no_grad():
            for p in model.weight_net.parameters():
                if p.abs().sum() == 0:
                    p.normal_(0, 0.5)
    return model.eval()


def packed_batch(n, first=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    cloudy = [torch.rand(4, SIZE, SIZE, generator=g) * 2 - 1 for _ in range(n)]
    samples = []
    for i in range(n):
        s = CRDataSample(gt=torch.rand(4, SIZE, SIZE, generator=g) * 2 - 1)
        s.set_metainfo(dict(sample_id=f'img{first + i}', band_names=['B4', 'B3', 'B2', 'B8']))
        samples.append(s)
    return {'inputs': {'cloudy': cloudy}, 'data_samples': samples}


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_helpers():
    assert trajectory_indices(8, 4) == [0, 2, 5, 7]
    assert trajectory_indices(50, 6) == [0, 10, 20, 29, 39, 49]
    assert trajectory_indices(3, 6) == [0, 1, 2] and trajectory_indices(5, 1) == [4]
    g = torch.Generator().manual_seed(0)
    x0_eps, ref = torch.randn(2, 4, 5, 5, generator=g), torch.randn(2, 4, 5, 5, generator=g)
    w = torch.rand(2, 4, 5, 5, generator=g) * 0.7 + 0.3
    w[0, 0, 0, 0] = 1.0
    fused = (1 - w) * x0_eps + w * ref  # DE Eq. 12
    back = recover_x0_eps(fused, ref, w)
    assert torch.isnan(back[0, 0, 0, 0])
    keep = w < 1
    torch.testing.assert_close(back[keep], x0_eps[keep], rtol=1e-4, atol=1e-4)


def test_hook_saves_the_three_figures_for_the_first_images(ref_ckpt, tmp_path):
    model = build(ref_ckpt, sampling_seed=7)
    out_dir = str(tmp_path / 'vis')
    hook = HOOKS.build(dict(type='DEVisualizationHook', out_dir=out_dir, max_images=4,
                            trajectory_steps=4))
    runner = SimpleNamespace(model=model, logger=logging.getLogger('test'))
    hook.before_test(runner)
    batches = [packed_batch(3, first=0, seed=0), packed_batch(3, first=3, seed=1)]
    for idx, data in enumerate(batches):
        outputs = model.test_step(data)  # predictions, as the test loop makes them
        hook.after_test_iter(runner, idx, data_batch=data, outputs=outputs)
    hook.after_test_iter(runner, 2, data_batch=packed_batch(1, 6), outputs=None)  # past max

    names = sorted(os.listdir(out_dir))
    for i in range(4):
        for suffix in ('_w_heatmap.png', '_w_per_step.png', '_w_per_step.csv',
                       '_trajectory.png'):
            assert f'img{i}{suffix}' in names
    assert not any(n.startswith(('img4', 'img5', 'img6')) for n in names)
    assert len(hook.written) == 4

    # Fig. 9 CSV: one row per sampling step, t from T down to 0, W within [η, 1]
    timesteps = model.process.timesteps(STEPS)
    rows = read_csv(os.path.join(out_dir, 'img0_w_per_step.csv'))
    assert [int(r['step']) for r in rows] == list(range(STEPS))
    assert [int(r['t']) for r in rows] == timesteps
    lo = np.array([float(r['w_min']) for r in rows])
    mean = np.array([float(r['w_mean']) for r in rows])
    hi = np.array([float(r['w_max']) for r in rows])
    assert (lo >= ETA - 1e-6).all() and (hi <= 1 + 1e-6).all()
    assert (lo <= mean).all() and (mean <= hi).all()
    assert lo.min() == pytest.approx(ETA) and np.ptp(mean) > 1e-4  # clamp active, W varies

    # the CSV is what the sampler used: recompute it independently (same seed, same images)
    data = model.data_preprocessor(batches[0], False)
    seen = []
    final = model.sample(data['inputs']['cloudy'], generator=torch.Generator().manual_seed(7),
                         callback=lambda info: seen.append(info['weight'][0].mean().item()))
    np.testing.assert_allclose(mean, seen, atol=2e-6)
    # with sampling_seed and DDIM (eta 0) the re-run is the test prediction itself
    outputs = model.test_step(batches[0])
    torch.testing.assert_close(final[0], outputs[0].pred, atol=1e-5, rtol=1e-5)

    # PNG sizes: panels are enlarged to >= 128 px; the trajectory strip has
    # label, x0_E and 4 steps side by side
    heat = Image.open(os.path.join(out_dir, 'img0_w_heatmap.png'))
    strip = Image.open(os.path.join(out_dir, 'img0_trajectory.png'))
    curve = Image.open(os.path.join(out_dir, 'img0_w_per_step.png'))
    assert 400 <= heat.width <= 2000 and 150 <= heat.height <= 600
    assert heat.width > 2 * heat.height  # label | x0_eps | x0_E | W + colorbar
    assert strip.width == 6 * 128 + 5 * 4 and 128 + 22 <= strip.height <= 128 + 60
    assert 300 <= curve.width <= 800 and 200 <= curve.height <= 500
    for im in (heat, strip, curve):
        pixels = np.asarray(im.convert('RGB'))
        assert pixels.std() > 10  # not blank


def test_recorder_trajectory_and_pure_diffusion(ref_ckpt, tmp_path):
    model = build(ref_ckpt, fusion='none')
    cloudy = model.data_preprocessor(packed_batch(2), False)['inputs']['cloudy']
    recorder = DESamplingRecorder(trajectory_steps=3)
    out = model.sample(cloudy, generator=torch.Generator().manual_seed(0), callback=recorder)
    timesteps = model.process.timesteps(STEPS)
    assert [t for t, _ in recorder.trajectory] == [timesteps[i] for i in (0, 4, 7)]
    torch.testing.assert_close(recorder.trajectory[-1][1], out)  # x0 at t = 0 is the output
    assert not recorder.has_weight and recorder.reference is None
    # no W without fusion: only the trajectory is written
    paths = visualize_de_sampling(model, cloudy, str(tmp_path), ['a', 'b/c'],
                                  trajectory_steps=3)
    assert [sorted(p) for p in paths] == [['trajectory'], ['trajectory']]
    assert sorted(os.listdir(tmp_path)) == ['a_trajectory.png', 'b_c_trajectory.png']
    strip = Image.open(paths[0]['trajectory'])
    assert strip.width == 3 * 128 + 2 * 4


def test_per_band_heatmap_and_non_diffusion_models(ref_ckpt, tmp_path):
    model = build(ref_ckpt, fusion='fixed', fixed_weight=0.5)
    cloudy = model.data_preprocessor(packed_batch(1), False)['inputs']['cloudy']
    one = visualize_de_sampling(model, cloudy, str(tmp_path / 'mean'), ['x'])[0]
    per_band = visualize_de_sampling(model, cloudy, str(tmp_path / 'bands'), ['x'],
                                     per_band=True, band_names=['B4', 'B3', 'B2', 'B8'])[0]
    rows = read_csv(one['w_per_step_csv'])
    assert len(rows) == STEPS and {float(r['w_mean']) for r in rows} == {0.5}
    assert Image.open(per_band['w_heatmap']).width > Image.open(one['w_heatmap']).width + 300

    hook = HOOKS.build(dict(type='DEVisualizationHook', out_dir=str(tmp_path / 'none')))
    warnings = []
    logger = SimpleNamespace(warning=warnings.append)
    runner = SimpleNamespace(model=nn.Conv2d(4, 4, 1), logger=logger)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, data_batch=packed_batch(1), outputs=None)
    assert len(warnings) == 1 and 'no `sample`' in warnings[0]
    assert os.listdir(tmp_path / 'none') == []
