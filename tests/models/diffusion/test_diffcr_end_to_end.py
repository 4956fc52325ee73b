"""DiffCR end to end on synthetic Sen2_MTC_New: train through the Runner, test through
tools/test.py to a results JSON, exact resume.

A tiny variant of configs/diffcr/diffcr_sen2mtc_new.py (only network size, schedule,
learning rate and loaders change, in a config that inherits from it). Images are 16 x 16.
"""
import copy
import math
import os.path as osp
import uuid

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_sen2mtc

from helpers import results_of_test_tool

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY = dict(width=8, enc_blocks=(1, 1), dec_blocks=(1, 1), middle_blocks=1, emb_dim=32,
            freq_dim=16)
ITERS = 25


def write_config(folder, name, iters=ITERS, ckpt_interval=None, extra=''):
    text = f"""
_base_ = [{osp.join(REPO, 'configs', 'diffcr', 'diffcr_sen2mtc_new.py')!r}]
model = dict(network={TINY!r}, sampling_seed=0)
optim_wrapper = dict(optimizer=dict(lr=2e-3))  # a few iterations must move a tiny network
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
# the official protocol's SAM is NaN for an all-black pixel a barely trained model can give
test_evaluator = dict(type='CRMetric', protocol='standard')
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval={10 ** 6})
default_hooks = dict(checkpoint=dict(interval={ckpt_interval or iters}, max_keep_ckpts=3,
                                     save_best=None),
                     logger=dict(interval=1))
randomness = dict(seed=0, deterministic=False)
{extra}
"""
    path = osp.join(folder, f'{name}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def runner_for(config, work_dir, data_root, **overrides):
    cfg = prepare_config(config, work_dir, data_root)
    cfg.experiment_name = f'diffcr-e2e-{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    for key, value in overrides.items():
        cfg[key] = value
    return Runner.from_cfg(cfg)


def probe_loss(model, batch, gammas=(0.1, 0.4, 0.7, 0.95)):
    """The training loss at fixed noise levels and noise (the logged loss is one draw)."""
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    cond = model.condition(data['inputs'])
    x0 = model.targets(data['data_samples'])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return sum(model.diffusion_loss(x0, cond, torch.full((x0.shape[0], ), v),
                                        torch.randn(x0.shape, generator=g)).item()
                   for v in gammas)


def test_train_then_test_to_results_json(tmp_path):
    data_root = write_sen2mtc(str(tmp_path / 'data'), images_per_tile=1, size=16)
    config = write_config(str(tmp_path), 'diffcr_tiny')
    runner = runner_for(config, str(tmp_path / 'work'), data_root)
    assert runner.cfg.model.sampler == dict(type='DPMSolverPP2MSampler', num_steps=20,
                                            spacing='process')
    dataset = runner.train_dataloader.dataset
    batch = pseudo_collate([dataset[0], dataset[1]])
    before = probe_loss(runner.model, batch)
    runner.train()
    after = probe_loss(runner.model, batch)
    assert after < 0.9 * before, (before, after)
    logged = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(logged) == ITERS and all(math.isfinite(v) for v in logged)
    checkpoint = osp.join(runner.work_dir, f'iter_{ITERS}.pth')
    assert osp.isfile(checkpoint)

    record = results_of_test_tool(config, checkpoint, data_root, tmp_path)
    assert record['model'] == 'diffcr' and record['dataset'] == 'Sen2_MTC_New'
    assert record['synthetic'] is True and record['n_images'] > 0
    assert {'PSNR', 'SSIM'} <= set(record['metrics'])
    assert all(math.isfinite(v) for v in record['metrics'].values()), record['metrics']


def _weights(runner):
    model = getattr(runner.model, 'module', runner.model)
    (ema_hook, ) = [h for h in runner.hooks if type(h).__name__ == 'EMAHook']
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            {k: v.detach().clone() for k, v in ema_hook.ema_model.state_dict().items()})


def test_resume_is_bit_exact_for_weights_and_ema(tmp_path, restore_determinism):
    data_root = write_sen2mtc(str(tmp_path / 'data'), images_per_tile=1, size=16)
    config = write_config(str(tmp_path), 'diffcr_resume', iters=4, ckpt_interval=2,
                          extra='randomness = dict(seed=0, deterministic=True)\n')
    straight = runner_for(config, str(tmp_path / 'straight'), data_root)
    straight.train()
    weights, ema = _weights(straight)
    half = osp.join(straight.work_dir, 'iter_2.pth')
    assert osp.isfile(half)
    resumed = runner_for(config, str(tmp_path / 'resumed'), data_root, resume=True,
                         load_from=half)
    resumed.train()
    assert resumed.iter == 4
    weights_r, ema_r = _weights(resumed)
    assert weights.keys() == weights_r.keys() and ema.keys() == ema_r.keys()
    start = torch.load(half, map_location='cpu', weights_only=False)['state_dict']
    assert any(not torch.equal(start[k], weights_r[k]) for k in weights_r)  # it did train
    for key in weights:
        assert torch.equal(weights[key], weights_r[key]), key
    for key in ema:
        assert torch.equal(ema[key], ema_r[key]), f'EMA {key}'
