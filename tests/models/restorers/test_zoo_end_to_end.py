"""The model zoo end to end, and exact resume of the GAN and DE frameworks.

1. Each baseline's repository config ``configs/<model>/<model>_cuhkcr2.py``, with
   only the network widths, loaders, schedule and learning rate shrunk or raised,
   trains through MMEngine's ``Runner`` on a synthetic CUHK-CR2 (4 + 2 images,
   32 px, 16 px after the config's resize). The loss falls (for the GANs the
   generator's pixel term: the adversarial terms oscillate); both GAN optimisers
   step (weights and Adam step counts); ``tools/test.py`` writes a results JSON.
   CVAE is built for 16 px inputs (``image_size=16``; the official 256 is only
   the default) and keeps its 10-sample training step.
2. Resume is bit-exact (issue "Scale and reliability"): n iterations straight vs
   k, then ``resume=True`` up to n: every tensor of the model and of the
   optimisers' states is ``torch.equal``. SpA-GAN (two optimisers) and DE.
"""
import copy
import math
import os.path as osp
import uuid

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_cuhk
from crbench.engine import load_checkpoint_file

from helpers import results_of_test_tool, short_run_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

pytestmark = pytest.mark.filterwarnings('ignore:VGGPerceptualLoss uses a RANDOM VGG16')

# The smallest widths each network accepts (checked by building them: one less fails,
# e.g. MSDA-CR's channel attention and the critic's self-attention divide the width by
# 4 and 8, SpA-GAN's direction branch halves it). Depths stay as configured.
TINY = {
    'memorynet': {'model.generator.n_feat': 4, 'model.generator.scale_unetfeats': 1,
                  'model.generator.scale_orsnetfeats': 1},
    'msda_cr': {'model.generator.base_channels': 4, 'model.generator.growth_rate': 1,
                'model.discriminator.base_channels': 2,
                # no ImageNet VGG16 here: the perceptual term runs on a random one (test only)
                'model.pixel_losses.perceptual.allow_random': True},
    'spagan': {'model.generator.features': 2, 'model.discriminator.features': 1},
    'amgan_cr': {'model.generator.features': 1, 'model.discriminator.features': 1},
    # the ViT's position embedding and the latent map are built for image_size: 16 px here
    'cvae': {'model.generator.image_size': 16, 'model.generator.embed_dim': 4,
             'model.generator.num_heads': 1, 'model.generator.latent_dim': 1},
}
GANS = ('msda_cr', 'spagan', 'amgan_cr')
# The logged term that must fall: the generator's pixel term for the GANs, the
# SmoothL1 term for CVAE (its KL term may grow while the posterior leaves the prior).
FALLING = {'memorynet': 'loss', 'msda_cr': 'loss_smooth_l1', 'spagan': 'loss_l1',
           'amgan_cr': 'loss_l1', 'cvae': 'loss_pixel'}
ITERS = {'memorynet': 10, 'msda_cr': 6, 'spagan': 10, 'amgan_cr': 10, 'cvae': 6}
# Raised learning rates (the recipes' 1e-4 needs thousands of iterations).
LR = {'memorynet': 2e-3, 'msda_cr': 5e-3, 'spagan': 5e-3, 'amgan_cr': 5e-3, 'cvae': 1e-3}


def config_path(model):
    return osp.join(REPO, 'configs', model, f'{model}_cuhkcr2.py')


def tiny_options(model, max_iters, batch_size=4, ckpt_interval=None):
    """``--cfg-options`` that shrink a zoo config; the same dict serves tools/test.py."""
    opts = dict(TINY[model])
    lr_keys = (['optim_wrapper.generator.optimizer.lr', 'optim_wrapper.discriminator.optimizer.lr']
               if model in GANS else ['optim_wrapper.optimizer.lr'])
    opts.update({key: LR[model] for key in lr_keys})
    return {**opts, **short_run_options(max_iters, batch_size, ckpt_interval)}


def build_cfg(config, work_dir, data_root, options):
    cfg = prepare_config(config, str(work_dir), data_root, options)
    cfg.experiment_name = f'zoo-{uuid.uuid4().hex[:8]}'  # one logger / visualizer per Runner
    return cfg


class Snapshot(Hook):
    """Keeps the model's weights as training starts (after init and any load)."""

    def before_train(self, runner):
        self.weights = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def adam_steps(optimizer):
    return {int(s['step']) for s in optimizer.state.values()}


def assert_same(a, b, where='state'):
    """Every tensor equal bit for bit (``torch.equal``), every other leaf ``==``."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        equal = torch.equal(a, b)
        assert equal, (f'{where} differs (max |diff| '
                       f'{(a.double() - b.double()).abs().max().item():.3g})')
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    top = write_cuhk(str(tmp_path_factory.mktemp('zoo_cuhk')), 'CUHK-CR2',
                     {'train': 4, 'test': 2}, size=32, seed=1)
    return osp.join(top, 'CUHK-CR2')


# ------------------------------------------------------------------------------------
# 1. Every zoo model: Runner training, falling loss, both optimisers, results JSON
# ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize('model', ['memorynet', 'msda_cr', 'spagan', 'amgan_cr', 'cvae'])
def test_zoo_model_trains_and_tests(model, data_root, tmp_path):
    iters = ITERS[model]
    options = tiny_options(model, iters)
    cfg = build_cfg(config_path(model), tmp_path / 'work', data_root, options)
    runner = Runner.from_cfg(cfg)
    snapshot = Snapshot()
    runner.register_hook(snapshot, 'LOWEST')
    runner.train()
    assert runner.iter == iters

    # The loss falls. Batch 4 = the whole synthetic train split, so every iteration
    # sees the same images (the sampler only reorders them within the batch).
    history = runner.message_hub.get_scalar(f'train/{FALLING[model]}').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    first, last = history[:2].mean(), history[-2:].mean()
    assert last < 0.85 * first, (model, history)

    net = runner.model
    if model in GANS:
        for name in ('generator', 'discriminator'):
            wrapper = runner.optim_wrapper[name]
            stepped = {id(p) for p in wrapper.optimizer.state}
            params = dict(getattr(net, name).named_parameters())
            assert {id(p) for p in params.values()} >= stepped and stepped, name
            # each stepped parameter was stepped at every iteration, and moved
            assert adam_steps(wrapper.optimizer) == {iters}, name
            for key, p in params.items():
                if id(p) in stepped:
                    assert not torch.equal(snapshot.weights[f'{name}.{key}'], p.detach()), key
        # the discriminator has no dead parameters: all of it was trained
        d_params = list(net.discriminator.parameters())
        assert len(runner.optim_wrapper['discriminator'].optimizer.state) == len(d_params)
    else:
        assert adam_steps(runner.optim_wrapper.optimizer) == {iters}
        assert any(not torch.equal(snapshot.weights[k], v)
                   for k, v in net.state_dict().items())

    checkpoint = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    record = results_of_test_tool(config_path(model), checkpoint, data_root, tmp_path, options)
    assert record['protocol'] == 'cuhk_official' and record['synthetic'] is True
    assert record['model'] == model and record['n_images'] == 2
    assert {'PSNR', 'SSIM', 'RMSE'} <= set(record['metrics'])
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM', 'RMSE'))


# ------------------------------------------------------------------------------------
# 2. Resume is bit-exact
# ------------------------------------------------------------------------------------
def train_and_resume(make_cfg, n, k, tmp_path, hooks=()):
    """Train ``n`` iterations straight (checkpoint at ``k``), then from ``iter_k.pth``
    resume in a fresh work dir up to ``n``. Returns (straight runner, resumed runner, the
    path of ``iter_k.pth``)."""
    straight_cfg = make_cfg(tmp_path / 'straight', n)
    assert straight_cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert straight_cfg.randomness == dict(seed=0, deterministic=True)
    straight = Runner.from_cfg(straight_cfg)
    for hook in hooks:
        straight.register_hook(copy.deepcopy(hook), 'LOWEST')
    straight.train()
    middle = osp.join(straight_cfg.work_dir, f'iter_{k}.pth')
    assert load_checkpoint_file(middle)['meta']['iter'] == k

    resumed_cfg = make_cfg(tmp_path / 'resumed', n)
    resumed_cfg.resume, resumed_cfg.load_from = True, middle
    resumed = Runner.from_cfg(resumed_cfg)
    for hook in hooks:
        resumed.register_hook(copy.deepcopy(hook), 'LOWEST')
    resumed.train()
    assert straight.iter == resumed.iter == n
    return straight, resumed, middle


@pytest.mark.slow
def test_gan_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    """SpA-GAN tiny, batch 2 (two batches per pass over the shuffled data), resumed
    after iteration 3 (mid-pass) up to 5: model and both Adam states identical."""
    def make_cfg(work_dir, n):
        options = tiny_options('spagan', n, batch_size=2, ckpt_interval=3)
        options['randomness.deterministic'] = True
        return build_cfg(config_path('spagan'), work_dir, data_root, options)

    straight, resumed, middle = train_and_resume(make_cfg, 5, 3, tmp_path)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert any(k.startswith('discriminator.') and k.endswith('running_mean') for k in a)
    assert_same(a, b, 'model')
    start = load_checkpoint_file(middle)
    for key in ('generator.conv_out.weight', 'discriminator.head.weight'):
        assert not torch.equal(start['state_dict'][key], b[key]), key  # the resumed run trained
    optim_a, optim_b = straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict()
    assert set(optim_a) == {'generator', 'discriminator'}
    assert_same(optim_a, optim_b, 'optimizer')
    for name in ('generator', 'discriminator'):
        assert adam_steps(resumed.optim_wrapper[name].optimizer) == {5}
    # and what the two runs saved last is the same too
    sa, sb = (load_checkpoint_file(osp.join(r.work_dir, 'iter_5.pth')) for r in (straight, resumed))
    assert_same(sa['state_dict'], sb['state_dict'], 'checkpoint.state_dict')
    assert_same(sa['optimizer'], sb['optimizer'], 'checkpoint.optimizer')


# DE: configs/de/de_memorynet_cuhkcr2.py with tiny U-Nets and a tiny reference MemoryNet.
DE_CONFIG = osp.join(REPO, 'configs', 'de', 'de_memorynet_cuhkcr2.py')
TINY_UNET = dict(model_channels=8, channel_mult=(1, 2), num_res_blocks=1, norm_groups=4,
                 attention_downsample=(2, ), num_heads=1)
TINY_REF = dict(type='MemoryNet', in_channels=4, n_feat=4, scale_unetfeats=1,
                scale_orsnetfeats=1, num_cab=1)

@pytest.fixture(scope='module')
def reference_checkpoint(tmp_path_factory):
    """A tiny MemoryNet saved as crbench training leaves it (weights under 'generator.')."""
    from crbench.registry import MODELS
    torch.manual_seed(0)
    net = MODELS.build(TINY_REF)
    path = str(tmp_path_factory.mktemp('de_reference') / 'memorynet_tiny.pth')
    torch.save({'state_dict': {f'generator.{k}': v for k, v in net.state_dict().items()}}, path)
    return path


def de_cfg_factory(stage_index, data_root, reference_checkpoint, k):
    """One stage of the DE config (what tools/train.py runs in <work_dir>/<stage>/), tiny:
    stage 1 on 8x8 images, stage 3 on 16x16 with the tiny reference, batch 2."""
    from mmengine.config import Config

    from crbench.engine.multi_stage import parse_stages, stage_config

    def make_cfg(work_dir, n):
        top = Config.fromfile(DE_CONFIG)
        top.model.cnp.update(TINY_UNET)
        top.model.weight_net.update(TINY_UNET)
        top.model.update(reference=dict(TINY_REF), reference_checkpoint=reference_checkpoint,
                         sampler=dict(type='DDIMSampler', num_steps=2, eta=0.0))
        top.work_dir = str(work_dir)
        cfg = stage_config(top, parse_stages(top)[stage_index])
        cfg.work_dir = str(work_dir)
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].update(num_workers=0, persistent_workers=False)
            cfg[key].dataset.data_root = data_root
        cfg.train_dataloader.batch_size = 2
        for transform in cfg.train_dataloader.dataset.pipeline:
            if transform['type'] == 'MatlabResize' and transform.get('size'):
                transform['size'] = (8, 8)  # stage 1: the whole image to 64 in DE
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=n, val_interval=10**6)
        cfg.default_hooks.checkpoint.update(interval=k, save_best=None, max_keep_ckpts=5)
        cfg.default_hooks.logger.interval = 1
        cfg.randomness = dict(seed=0, deterministic=True)
        cfg.experiment_name = f'zoo-de-{uuid.uuid4().hex[:8]}'
        return cfg
    return make_cfg


def assert_de_runs_equal(straight, resumed, n):
    """Model (raw weights in memory), optimizer, and the whole saved checkpoints
    (EMA weights in ``state_dict``, raw in ``ema_state_dict``, optimizer)."""
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
    sa, sb = (load_checkpoint_file(osp.join(r.work_dir, f'iter_{n}.pth'))
              for r in (straight, resumed))
    for key in ('state_dict', 'ema_state_dict', 'optimizer'):
        assert key in sa
        assert_same(sa[key], sb[key], f'checkpoint.{key}')


@pytest.mark.slow
@pytest.mark.parametrize('stage_index', [0, 2], ids=['stage1', 'stage3'])
def test_de_resume_is_bit_exact(stage_index, data_root, reference_checkpoint, tmp_path,
                                restore_determinism):
    make_cfg = de_cfg_factory(stage_index, data_root, reference_checkpoint, k=2)
    straight, resumed, _ = train_and_resume(make_cfg, 4, 2, tmp_path)
    assert_de_runs_equal(straight, resumed, 4)


@pytest.mark.slow
def test_de_stage3_resume_restores_the_random_state(
        data_root, reference_checkpoint, tmp_path, restore_determinism):
    """The RNG state travels in the checkpoint and the resumed run moves on from it
    bit-exactly (EMA, AdamW, flips and sampler included); stage 3 (CNP + WA + reference)."""
    make_cfg = de_cfg_factory(2, data_root, reference_checkpoint, k=2)
    straight, resumed, middle = train_and_resume(make_cfg, 4, 2, tmp_path)
    start = load_checkpoint_file(middle)
    assert 'random_state' in start  # crbench.engine.hooks.RandomStateHook
    final = resumed.model.state_dict()
    for key in ('cnp.out.2.weight', 'weight_net.out.2.weight'):
        assert not torch.equal(start['ema_state_dict'][f'module.{key}'], final[key]), key
    assert_de_runs_equal(straight, resumed, 4)
