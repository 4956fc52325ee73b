"""EMRDM end to end on synthetic data: train, test through tools/test.py, samplers, resume.

Tiny variants of the repository's configs (configs/emrdm/emrdm_{cuhkcr2,sen12mscr,
sen2mtc_new}.py): only the network size, the schedule, the learning rate, the loaders
and the sampling seed are changed, by small config files that inherit from them (what a
user would write). Images are 16 x 16.
"""
import copy
import math
import os
import os.path as osp
import uuid

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from PIL import Image

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_cuhk, write_sen12mscr, write_sen2mtc
from crbench.models.diffusion.emrdm import EMRDM

from helpers import results_of_test_tool

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

TINY_HDIT = dict(widths=[16, 32], depths=[1, 1], d_ffs=[32, 64],
                 self_attns=[dict(type='neighborhood', d_head=8, kernel_size=3),
                             dict(type='global', d_head=8)],
                 dropout_rate=[0.0, 0.0], mapping_depth=1, mapping_width=32, mapping_d_ff=64,
                 mapping_dropout_rate=0.0)
TINY_THDIT = dict(TINY_HDIT, patch_size=2, temporal_n_heads=4, temporal_d_k=4,
                  temporal_d_ff=32)

# name -> (config, data writer returning data_root, network overrides, sampler steps,
#          dataset name, protocol, number of test images)
CASES = {
    'cuhkcr2': ('emrdm_cuhkcr2.py',
                lambda d: osp.join(write_cuhk(d, 'CUHK-CR2', {'train': 4, 'test': 2}, size=32),
                                   'CUHK-CR2'),
                TINY_HDIT, 4, 'CUHK-CR2', 'cuhk_official', 2),
    'sen12mscr': ('emrdm_sen12mscr.py',
                  lambda d: write_sen12mscr(d, patches_per_scene=1, size=16),
                  TINY_HDIT, 5, 'SEN12MS-CR', 'sen12mscr_official', None),
    'sen2mtc_new': ('emrdm_sen2mtc_new.py',
                    lambda d: write_sen2mtc(d, images_per_tile=1, size=16),
                    TINY_THDIT, 5, 'Sen2_MTC_New', 'standard', 2),
}
ITERS = 25
TFSA_HEADS = 4


def write_config(folder, name, base, network, iters=ITERS, ckpt_interval=None, sampler=None,
                 extra='') -> str:
    """A config inheriting from configs/emrdm/<base> with a tiny network and schedule."""
    model = dict(network=network, sampling_seed=0)
    if sampler is not None:
        model['sampler'] = dict(sampler, _delete_=True)
    text = f"""
_base_ = [{osp.join(REPO, 'configs', 'emrdm', base)!r}]
model = {model!r}
optim_wrapper = dict(optimizer=dict(lr=2e-3))  # a few iterations must move a tiny network
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
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


def runner_for(config, work_dir, data_root):
    cfg = prepare_config(config, work_dir, data_root)  # as tools/train.py prepares it
    cfg.experiment_name = f'emrdm-e2e-{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    return Runner.from_cfg(cfg)


def probe_loss(model, batch, sigmas=(0.05, 0.2, 0.5, 1.0)):
    """The training loss at fixed sigmas and noise (the logged loss is one random draw)."""
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    mu, cond = model.split_inputs(data['inputs'])
    x0 = model.targets(data['data_samples'])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return sum(model.diffusion_loss(x0, mu, cond, torch.full((x0.shape[0], ), s),
                                        torch.randn(mu.shape, generator=g)).item()
                   for s in sigmas)


@pytest.mark.parametrize('case', list(CASES))
def test_train_then_test_with_both_samplers(case, tmp_path):
    base, write, network, steps, dataset_name, protocol, n_test = CASES[case]
    data_root = write(str(tmp_path / 'data'))
    attn_dir = str(tmp_path / 'attention')
    evaluator, hooks = '', ''
    if case == 'sen2mtc_new':
        # The official protocol's SAM (EMRDM's, no epsilon) is NaN for an image with a pixel
        # rendered black in all bands, which a barely trained network's out-of-range
        # predictions cause on both synthetic test images; the result writer refuses an
        # all-NaN metric. The standard protocol's SAM is always finite.
        evaluator = "test_evaluator = dict(type='CRMetric', protocol='standard')\n"
        # and save the TFSA attention maps (EMRDM Fig. 6) at test time
        hooks = ("custom_imports = dict(imports=['crbench.visualization.attention'], "
                 "allow_failed_imports=False)\n"
                 "custom_hooks = [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999), "
                 f"dict(type='TFSAAttentionHook', out_dir={attn_dir!r})]\n")
    stochastic = write_config(str(tmp_path), f'{case}_stochastic', base, network,
                              extra=evaluator + hooks)
    deterministic = write_config(str(tmp_path), f'{case}_deterministic', base, network,
                                 sampler=dict(type='EulerSampler', num_steps=steps),
                                 extra=evaluator)

    runner = runner_for(stochastic, str(tmp_path / 'work'), data_root)
    assert runner.cfg.model.sampler.type == 'StochasticEulerSampler'
    assert runner.cfg.model.sampler.num_steps == steps and runner.cfg.model.sampler.s_churn > 0
    dataset = runner.train_dataloader.dataset
    batch = pseudo_collate([dataset[0], dataset[1]])
    before = probe_loss(runner.model, batch)
    runner.train()
    after = probe_loss(runner.model, batch)
    assert after < 0.9 * before, (case, before, after)
    logged = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(logged) == ITERS and all(math.isfinite(v) for v in logged)
    checkpoint = osp.join(runner.work_dir, f'iter_{ITERS}.pth')
    assert osp.isfile(checkpoint)

    records = {}
    for kind, config in (('stochastic', stochastic), ('deterministic', deterministic)):
        records[kind] = results_of_test_tool(config, checkpoint, data_root, tmp_path / kind)
    for kind, record in records.items():
        assert record['dataset'] == dataset_name and record['protocol'] == protocol, kind
        assert record['synthetic'] is True and record['model'] == 'emrdm'
        assert record['n_images'] == (n_test or len(runner.test_dataloader.dataset)) > 0
        assert {'PSNR', 'SSIM'} <= set(record['metrics'])
        assert all(math.isfinite(v) for v in record['metrics'].values()), record['metrics']
    # churn injects noise: the two samplers give different restorations
    assert records['stochastic']['metrics'] != records['deterministic']['metrics']

    if case == 'cuhkcr2':  # the stochastic sampler without churn is the deterministic one
        no_churn = results_of_test_tool(stochastic, checkpoint, data_root, tmp_path / 'no_churn',
                                        {'model.sampler.s_churn': 0.0})
        assert no_churn['metrics'] == records['deterministic']['metrics']
    if case == 'sen2mtc_new':  # heads x samples attention images, T = 3 panels each
        files = sorted(os.listdir(attn_dir))
        assert len(files) == TFSA_HEADS * n_test, files
        # 16 x 16 input, patch 2, one merge: 4 x 4 bottleneck tokens, scale 8, gap 2
        assert {Image.open(osp.join(attn_dir, f)).size for f in files} == {(3 * 32 + 2 * 2, 32)}


# ---------------------------------------------------------------------------------------
def _tiny_model(temporal, sampler, seed=0):
    torch.manual_seed(seed)
    network = dict(TINY_THDIT if temporal else TINY_HDIT,
                   type='TemporalHDiT' if temporal else 'HDiT',
                   in_channels=7 if temporal else 8, out_channels=3 if temporal else 4)
    model = EMRDM(network=network, sampler=sampler,
                  mean_bands=[0, 1, 2] if temporal else None)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-zero output heads, so that F matters
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


@pytest.mark.parametrize('temporal', [False, True])
def test_stochastic_sampler_without_churn_equals_deterministic(temporal):
    steps = 4
    deterministic = _tiny_model(temporal, dict(type='EulerSampler', num_steps=steps))
    variants = {
        'no_churn': dict(type='StochasticEulerSampler', num_steps=steps, s_churn=0.0,
                         s_noise=1.023),
        'churn_outside_window': dict(type='StochasticEulerSampler', num_steps=steps,
                                     s_churn=2.5, s_tmin=200.0, s_tmax=300.0),
        'churn': dict(type='StochasticEulerSampler', num_steps=steps, s_churn=2.5),
    }
    models = {k: _tiny_model(temporal, v) for k, v in variants.items()}
    shape = (2, 3, 4, 16, 16) if temporal else (2, 4, 16, 16)
    for seed in (0, 1, 2):
        cloudy = torch.rand(shape, generator=torch.Generator().manual_seed(10 + seed)) * 2 - 1

        def sample(model):
            return model.sample(dict(cloudy=cloudy),
                                generator=torch.Generator().manual_seed(seed))

        want = sample(deterministic)
        assert torch.isfinite(want).all()
        assert torch.equal(sample(models['no_churn']), want), seed
        assert torch.equal(sample(models['churn_outside_window']), want), seed
        churned = sample(models['churn'])
        assert not torch.allclose(churned, want, atol=1e-3)  # churn really changes it
        assert torch.equal(sample(models['churn']), churned)  # but is reproducible


# ---------------------------------------------------------------------------------------


def _weights(runner):
    model = getattr(runner.model, 'module', runner.model)
    (ema_hook, ) = [h for h in runner.hooks if type(h).__name__ == 'EMAHook']
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            {k: v.detach().clone() for k, v in ema_hook.ema_model.state_dict().items()})


def test_resume_is_bit_exact_for_weights_and_ema(tmp_path, restore_determinism):
    base, write, network = CASES['cuhkcr2'][:3]
    data_root = write(str(tmp_path / 'data'))
    config = write_config(str(tmp_path), 'cuhkcr2_resume', base, network, iters=4,
                          ckpt_interval=2,
                          extra='randomness = dict(seed=0, deterministic=True)\n')
    straight = runner_for(config, str(tmp_path / 'straight'), data_root)
    assert straight.cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert straight.cfg.randomness == dict(seed=0, deterministic=True)
    straight.train()
    weights, ema = _weights(straight)
    half = osp.join(straight.work_dir, 'iter_2.pth')
    assert osp.isfile(half)

    cfg = prepare_config(config, str(tmp_path / 'resumed'), data_root)
    cfg.experiment_name = f'emrdm-e2e-{uuid.uuid4().hex[:8]}'
    cfg.resume, cfg.load_from = True, half
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 4
    weights_r, ema_r = _weights(resumed)
    assert weights.keys() == weights_r.keys() and ema.keys() == ema_r.keys()
    assert int(ema_r['steps']) == int(ema['steps']) == 4
    start = torch.load(half, map_location='cpu', weights_only=False)['state_dict']
    assert any(not torch.equal(start[k], weights_r[k]) for k in weights_r)  # it did train
    for key in weights:
        assert torch.equal(weights[key], weights_r[key]), key
    for key in ema:
        assert torch.equal(ema[key], ema_r[key]), f'EMA {key}'
