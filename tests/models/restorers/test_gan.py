"""GANRestorer: the three official recipes, one step each; the zoo configs build and run."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_cuhk, write_rice, write_sen12mscr, write_sen2mtc
from crbench.models.restorers.gan import (GANRestorer, MultiOptimWrapperConstructor,
                                          attention_target_from_images, fold_time)
from crbench.registry import DATASETS, MODELS
from crbench.structures import CRDataSample

ADAM = dict(type='OptimWrapper',
            optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-5))
OPTIM = dict(constructor='MultiOptimWrapperConstructor', generator=ADAM, discriminator=ADAM)

# Generator parameter counts: docs/models.md §0 for 3 and 4 bands; other band counts follow
# from the per-band cost of the first/last convs (the 3- and 4-band counts pin it down).
PARAMS = {
    'spagan': lambda cin, cout: 219_876 + 288 * (cin - 4) + 288 * (cout - 4),
    'amgan_cr': lambda cin, cout: 239_425 + 864 * (cin - 4) + 288 * (cout - 4),
    'msda_cr': lambda cin, cout: 3_908_003 + 289 * (cin - 4),
    'memorynet': lambda cin, cout: 3_638_993 + 1_744 * (cin - 4),
}
DIS_PARAMS = {'spagan': 2_763_969, 'amgan_cr': 2_763_969, 'msda_cr': 6_029_057}  # 4 + 4 bands
# (generator in, out) bands and the schedule of every zoo config.
IO = {'cuhkcr1': (4, 4), 'cuhkcr2': (4, 4), 'rice1': (3, 3), 'rice2': (3, 3),
      'sen12mscr': (13, 13), 'sen2mtc_new': (3, 3)}
IO_WITH_AUX = dict(IO, sen12mscr=(15, 13), sen2mtc_new=(4, 3))  # SpA-GAN, AMGAN-CR
MAX_ITERS = {'cuhkcr1': 53400, 'cuhkcr2': 44800, 'rice1': 40000, 'rice2': 58800,
             'sen12mscr': 100000, 'sen2mtc_new': 238000}
DATASETS_ = tuple(IO)
MODELS_ = ('spagan', 'amgan_cr', 'msda_cr', 'memorynet')

pytestmark = pytest.mark.filterwarnings('ignore:VGGPerceptualLoss uses a RANDOM VGG16')


def config_path(repo_root, model, dataset):
    return osp.join(repo_root, 'configs', model, f'{model}_{dataset}.py')


def random_vgg(cfg):
    """Tests have no ImageNet VGG16 file: let the perceptual loss use a random one."""
    losses = cfg.get('pixel_losses') or {}
    if 'perceptual' in losses:
        losses['perceptual']['allow_random'] = True
    return cfg


def batch(cloudy_shape, gt_bands, sar=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, h, w = cloudy_shape[0], cloudy_shape[-2], cloudy_shape[-1]
    samples = []
    for _ in range(b):
        samples.append(CRDataSample(gt=torch.rand(gt_bands, h, w, generator=g) * 2 - 1))
    inputs = dict(cloudy=torch.rand(*cloudy_shape, generator=g) * 2 - 1)
    if sar:
        inputs['sar'] = torch.rand(b, 2, h, w, generator=g) * 2 - 1
    return dict(inputs=inputs, data_samples=samples)


def recipe(repo_root, model, dataset):
    cfg = Config.fromfile(config_path(repo_root, model, dataset))
    return random_vgg(copy.deepcopy(cfg.model.to_dict()))


def params(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def changed(before, module):
    return sorted(n for n, p in module.named_parameters() if not torch.equal(before[n], p))


def record_updates(optim_wrapper):
    order = []
    for name in ('generator', 'discriminator'):
        wrapper = optim_wrapper[name]
        original = wrapper.update_params

        def update(loss, *a, _name=name, _orig=original, **k):
            order.append(_name)
            return _orig(loss, *a, **k)
        wrapper.update_params = update
    return order


# ----------------------------------------------------------------------------------------
# One training step of each official recipe (full-size networks, 32x32, batch 2)
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('model,dataset,expected_terms', [
    ('spagan', 'cuhkcr1', {'loss_gan', 'loss_l1', 'loss_attention'}),
    ('amgan_cr', 'sen2mtc_new', {'loss_gan', 'loss_l1', 'loss_attention'}),
    ('msda_cr', 'rice1', {'loss_gan', 'loss_smooth_l1', 'loss_perceptual'}),
])
def test_one_train_step_of_each_recipe(repo_root, model, dataset, expected_terms):
    torch.manual_seed(0)
    net = MODELS.build(recipe(repo_root, model, dataset))
    cin = IO_WITH_AUX[dataset][0] if model != 'msda_cr' else IO[dataset][0]
    cloudy = (2, 1, cin, 32, 32) if dataset == 'sen2mtc_new' else (2, cin, 32, 32)
    data = batch(cloudy, IO[dataset][1])
    optim = build_optim_wrapper(net, copy.deepcopy(OPTIM))
    assert isinstance(optim, OptimWrapperDict)
    order = record_updates(optim)
    g0, d0 = params(net.generator), params(net.discriminator)
    log = net.train_step(data, optim)

    d_terms = {'loss_d_real', 'loss_d_fake'} | ({'loss_gp'} if model == 'msda_cr' else set())
    assert set(log) == expected_terms | d_terms | {'loss_g', 'loss_d'}
    assert all(torch.isfinite(v) and not v.requires_grad for v in log.values())
    torch.testing.assert_close(log['loss_g'], sum(log[k] for k in expected_terms))
    torch.testing.assert_close(log['loss_d'], sum(log[k] for k in d_terms))
    assert order == list(net.update_order)
    # Both networks moved; dead parameters (kept for the paper's counts) did not.
    dead = set(net.generator.dead_parameter_names())
    moved = set(changed(g0, net.generator))
    assert moved and not moved & dead
    assert set(g0) - moved == dead
    assert changed(d0, net.discriminator)


def test_spagan_weights_and_official_loss_values(repo_root):
    net = MODELS.build(recipe(repo_root, 'spagan', 'cuhkcr1'))
    data = batch((2, 4, 32, 32), 4)
    real = (net.targets(data['data_samples']) + 1) / 2             # official [0, 1] space
    x, att, fake = net.generate(data['inputs'])
    torch.testing.assert_close(x, (data['inputs']['cloudy'] + 1) / 2)
    losses = net.generator_losses(data['inputs'], data['data_samples'], x, att, fake, real)
    # M of the official loader: clip(sum(gt - cloudy), 0, 1) in 0-255 units (docs/models.md §1)
    gt = net.targets(data['data_samples'])
    mask = ((gt - data['inputs']['cloudy']) * 127.5).sum(1, keepdim=True).clamp(0, 1)
    logits = net.discriminator(torch.cat([x, fake], 1))
    torch.testing.assert_close(losses['loss_gan'], torch.nn.functional.softplus(-logits).mean())
    torch.testing.assert_close(losses['loss_l1'], 100 * (fake - real).abs().mean())
    torch.testing.assert_close(losses['loss_attention'], ((att[:, 0] - mask[:, 0]) ** 2).mean())
    amgan = MODELS.build(recipe(repo_root, 'amgan_cr', 'cuhkcr2'))
    assert (amgan.adversarial_weight, amgan.pixel_weights, amgan.attention_weight) == \
        (0.1, {'l1': 10.0}, 10.0)


def test_generator_step_leaves_no_gradient_on_the_discriminator(repo_root):
    net = MODELS.build(recipe(repo_root, 'spagan', 'rice2'))
    data = batch((2, 3, 32, 32), 3)
    real = net.range.to_network(net.targets(data['data_samples']))
    x, att, fake = net.generate(data['inputs'])
    losses = net.generator_losses(data['inputs'], data['data_samples'], x, att, fake, real)
    sum(losses.values()).backward()
    assert all(p.grad is None for p in net.discriminator.parameters())
    assert all(p.requires_grad for p in net.discriminator.parameters())
    assert net.generator.conv_out.weight.grad.abs().sum() > 0


def tiny_msda(gradient_penalty):
    return GANRestorer(
        generator=dict(type='MSDACRGenerator', in_channels=3, base_channels=4, growth_rate=4),
        discriminator=dict(type='MSDACRDiscriminator', in_channels=3, base_channels=8),
        conditional=False, adversarial='wgan', adversarial_weight=0.05,
        pixel_losses=dict(smooth_l1=dict(type='SmoothL1Loss')), pixel_weights=dict(smooth_l1=1.2),
        gradient_penalty=gradient_penalty, update_order=('generator', 'discriminator'),
        network_range=(0, 1))


def test_wgan_gp_discriminator_step_uses_the_penalty():
    data = batch((2, 3, 32, 32), 3)
    after = {}
    calls = []
    for name, gp in (('with', dict(type='WGANGradientPenalty', weight=10.0, interp='normal')),
                     ('without', None)):
        torch.manual_seed(0)
        net = tiny_msda(gp)
        if gp is not None:
            original = net.gradient_penalty.forward

            def spy(critic, real, fake, generator=None, _orig=original):
                calls.append((real.requires_grad, fake.requires_grad))
                return _orig(critic, real, fake, generator)
            net.gradient_penalty.forward = spy
        optim = build_optim_wrapper(net, copy.deepcopy(OPTIM))
        torch.manual_seed(1)
        log = net.train_step(data, optim)
        after[name] = params(net.discriminator)
        if gp is not None:
            assert log['loss_gp'] > 0
            torch.testing.assert_close(log['loss_d'],
                                       log['loss_d_real'] + log['loss_d_fake'] + log['loss_gp'])
        else:
            assert 'loss_gp' not in log
    assert calls == [(False, False)]       # called once, on detached real/fake
    assert any(not torch.equal(after['with'][n], after['without'][n]) for n in after['with'])


def test_msda_output_is_mapped_from_its_sigmoid_range(repo_root):
    net = tiny_msda(None).eval()
    seen = []
    net.generator.register_forward_hook(lambda m, inp, out: seen.append((inp[0], out)))
    cloudy = torch.full((1, 3, 16, 16), -1.0)
    pred = net(dict(cloudy=cloudy), mode='tensor')
    x, y = seen[0]
    assert torch.all(x == 0)                                       # [-1, 1] -> [0, 1]
    torch.testing.assert_close(pred, y * 2 - 1)                    # [0, 1] -> [-1, 1]
    assert 0 < y.min() and y.max() < 1


def test_attention_target_equals_the_official_formula():
    # The official loaders: M = clip(sum over bands of (gt - cloudy), 0, upper) on the
    # resized 0-255 images (docs/models.md §1). Computed here with numpy on 0-255 arrays; the
    # network's cloudy input has a 4th (NIR) band that M must ignore.
    rng = np.random.default_rng(0)
    cloudy = rng.uniform(0, 255, (16, 16, 4)).astype(np.float32)
    gt = rng.uniform(0, 255, (16, 16, 3)).astype(np.float32)
    expected = np.clip((gt - cloudy[..., :3]).sum(axis=2), 0, 10.0)
    to_sym = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None] / 127.5 - 1  # noqa: E731
    got = attention_target_from_images(to_sym(cloudy)[:, None], to_sym(gt), upper=10.0)
    torch.testing.assert_close(got[0, 0], torch.from_numpy(expected), atol=1e-3, rtol=0)
    assert 0 < float(got.mean()) and float(got.max()) <= 10


def test_fold_time_and_clear_errors():
    x = torch.randn(2, 1, 4, 8, 8)
    assert fold_time(x).shape == (2, 4, 8, 8)
    assert fold_time(torch.randn(2, 3, 4, 8, 8)).shape == (2, 12, 8, 8)
    with pytest.raises(ValueError, match='B×C×H×W'):
        fold_time(torch.randn(4, 8, 8))
    with pytest.raises(ValueError, match='update_order'):
        GANRestorer(generator=dict(type='SpAGANGenerator'), discriminator=dict(type='PatchDiscriminator'),
                    update_order=('generator', 'generator'))
    with pytest.raises(KeyError, match='NoSuchLoss'):
        GANRestorer(generator=dict(type='SpAGANGenerator'), discriminator=dict(type='PatchDiscriminator'),
                    pixel_losses=dict(x=dict(type='NoSuchLoss')))
    net = tiny_msda(None)
    with pytest.raises(KeyError, match='discriminator'):
        single = build_optim_wrapper(net, dict(optimizer=dict(type='SGD', lr=1)))
        net.train_step(batch((2, 3, 16, 16), 3), single)


def test_multi_optim_wrapper_constructor():
    net = tiny_msda(None)
    built = MultiOptimWrapperConstructor(dict(
        accumulative_counts=2, generator=dict(optimizer=dict(type='Adam', lr=1e-4)),
        discriminator=dict(optimizer=dict(type='SGD', lr=0.5))))(net)
    assert set(built.keys()) == {'generator', 'discriminator'}
    assert built['generator']._accumulative_counts == 2 == built['discriminator']._accumulative_counts
    g_params = {id(p) for g in built['generator'].optimizer.param_groups for p in g['params']}
    assert g_params == {id(p) for p in net.generator.parameters()}
    assert built['discriminator'].optimizer.param_groups[0]['lr'] == 0.5
    with pytest.raises(KeyError, match='critic'):
        MultiOptimWrapperConstructor(dict(critic=dict(optimizer=dict(type='SGD', lr=1))))(net)


def test_loss_modules_stay_out_of_checkpoints(repo_root):
    net = MODELS.build(recipe(repo_root, 'msda_cr', 'cuhkcr2'))
    state = net.state_dict()
    assert not [k for k in state if 'losses.' in k]
    assert any(k.startswith('generator.') for k in state)
    assert any(k.startswith('discriminator.') for k in state)
    other = MODELS.build(recipe(repo_root, 'msda_cr', 'cuhkcr2'))
    other.load_state_dict(state, strict=True)           # the VGG16 is not expected back
    with pytest.raises(RuntimeError, match='generator.conv_in.weight'):
        other.load_state_dict({k: v for k, v in state.items() if k != 'generator.conv_in.weight'})


# ----------------------------------------------------------------------------------------
# Zoo configs: full-size builds on the meta device with the documented counts
# ----------------------------------------------------------------------------------------
ZOO = [(m, d) for m in MODELS_ for d in DATASETS_]


@pytest.mark.parametrize('model,dataset', ZOO)
def test_zoo_config_builds_with_documented_counts(repo_root, model, dataset):
    cfg = Config.fromfile(config_path(repo_root, model, dataset))
    assert cfg.model_name == model and cfg.default_scope == 'crbench'
    cin, cout = (IO_WITH_AUX if model in ('spagan', 'amgan_cr') else IO)[dataset]
    with torch.device('meta'):
        net = MODELS.build(random_vgg(copy.deepcopy(cfg.model.to_dict())))
    assert sum(p.numel() for p in net.generator.parameters()) == PARAMS[model](cin, cout)
    assert cfg.train_cfg.max_iters == MAX_ITERS[dataset]
    assert cfg.train_cfg.max_iters % cfg.train_cfg.val_interval == 0
    assert cfg.default_hooks.checkpoint.interval == cfg.train_cfg.val_interval
    assert cfg.train_dataloader.batch_size == 2
    if model == 'memorynet':
        assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, betas=(0.5, 0.999),
                                                   weight_decay=1e-5)
        return
    assert cfg.optim_wrapper.constructor == 'MultiOptimWrapperConstructor'
    for part in ('generator', 'discriminator'):
        assert cfg.optim_wrapper[part].optimizer == dict(type='Adam', lr=1e-4, betas=(0.5, 0.999),
                                                         weight_decay=1e-5)
    assert 'optimizer' not in cfg.optim_wrapper
    assert tuple(net.range.as_tuple()) == (0.0, 1.0)
    if (cin, cout) == (4, 4):
        assert sum(p.numel() for p in net.discriminator.parameters()) == DIS_PARAMS[model]
    if model in ('spagan', 'amgan_cr'):  # the official loaders clip M at 10 for RICE, else 1
        assert net.attention_upper == (10.0 if dataset.startswith('rice') else 1.0)
    # The official AMGAN-CR loader does not shuffle; the others do.
    assert cfg.train_dataloader.sampler.shuffle is (model != 'amgan_cr')
    if dataset == 'sen2mtc_new':
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[key].dataset.mono_temporal == 0


# ----------------------------------------------------------------------------------------
# Zoo configs: the real pipelines feed the real networks (synthetic data, 32x32)
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def synthetic_roots(tmp_path_factory):
    top = str(tmp_path_factory.mktemp('zoo_data'))
    cuhk = write_cuhk(top, 'CUHK-CR1', {'train': 3, 'test': 1}, size=64)  # 2 train + 1 val
    write_cuhk(top, 'CUHK-CR2', {'train': 3, 'test': 1}, size=64)
    return {'cuhkcr1': osp.join(cuhk, 'CUHK-CR1'), 'cuhkcr2': osp.join(cuhk, 'CUHK-CR2'),
            'rice1': write_rice(top, counts={1: 5, 2: 5}, size=64),
            'rice2': osp.join(top, 'RICE_DATASET'),
            'sen12mscr': write_sen12mscr(top, patches_per_scene=1, size=32),
            'sen2mtc_new': write_sen2mtc(top, images_per_tile=1, size=32)}


def train_samples(cfg, root, dataset):
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = root
    if dataset == 'rice1':
        ds_cfg.split_file = None       # the synthetic ids are not the published 0..499
    ds = DATASETS.build(ds_cfg)
    return pseudo_collate([ds[0], ds[1]])


@pytest.mark.parametrize('model,dataset', ZOO)
def test_zoo_config_pipeline_feeds_its_network(repo_root, synthetic_roots, model, dataset):
    cfg = Config.fromfile(config_path(repo_root, model, dataset))
    torch.manual_seed(0)
    net = MODELS.build(random_vgg(copy.deepcopy(cfg.model.to_dict())))
    data = net.data_preprocessor(train_samples(cfg, synthetic_roots[dataset], dataset), True)
    gt_bands = IO[dataset][1]
    losses = net.loss(data['inputs'], data['data_samples'])
    assert losses and all(torch.isfinite(v) for v in losses.values())
    with torch.no_grad():
        pred = net(data['inputs'], mode='tensor')
    assert pred.shape == (2, gt_bands, 32, 32) and pred.abs().max() <= 1


@pytest.mark.slow
def test_gan_config_trains_and_validates_with_the_runner(repo_root, synthetic_roots, tmp_path):
    cfg = Config.fromfile(config_path(repo_root, 'spagan', 'cuhkcr2'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = synthetic_roots['cuhkcr2']
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    for term in ('loss_g', 'loss_d', 'loss_gan', 'loss_l1', 'loss_attention'):
        assert len(hub.get_scalar(f'train/{term}').data[0]) == 2
    assert 'val/RMSE' in hub.log_scalars
    checkpoint = torch.load(glob.glob(osp.join(str(tmp_path), 'iter_2.pth'))[0],
                            map_location='cpu', weights_only=False)
    assert set(checkpoint['optimizer']) >= {'generator', 'discriminator'}


# ----------------------------------------------------------------------------------------
# Model zoo metadata (all five folders)
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('model', MODELS_ + ('cvae', ))
def test_metafile_matches_configs_and_reported_numbers(repo_root, model):
    import csv

    import yaml
    meta = yaml.safe_load(open(osp.join(repo_root, 'configs', model, 'metafile.yml')))
    rows = [r for r in csv.DictReader(open(osp.join(repo_root, 'leaderboard', 'reported.csv')))
            if r['model'] == model]
    reported = {(r['dataset'], r['source'] + ', ' + r['table'], r['metric']): float(r['value'])
                for r in rows}
    names = {'cuhkcr1': 'CUHK-CR1', 'cuhkcr2': 'CUHK-CR2', 'rice1': 'RICE1', 'rice2': 'RICE2',
             'sen12mscr': 'SEN12MS-CR', 'sen2mtc_new': 'Sen2_MTC_New'}
    assert [m['Name'] for m in meta['Models']] == [f'{model}_{d}' for d in
                                                   ('cuhkcr1', 'cuhkcr2', 'sen12mscr',
                                                    'sen2mtc_new', 'rice1', 'rice2')]
    seen = set()
    for entry in meta['Models']:
        dataset = entry['Name'][len(model) + 1:]
        assert osp.isfile(osp.join(repo_root, entry['Config']))
        assert isinstance(entry['Weights'], list)  # official weights: tests/test_model_index.py
        assert entry['Metadata']['Training Data'] == names[dataset]
        assert entry['Metadata']['Iterations'] == MAX_ITERS[dataset]
        if model == 'cvae':
            bands = IO[dataset][0]
            assert entry['Metadata']['Parameters'] == 15_418_847 + 271_617 * (bands - 3)
        else:
            cin, cout = (IO_WITH_AUX if model in ('spagan', 'amgan_cr') else IO)[dataset]
            assert entry['Metadata']['Parameters'] == PARAMS[model](cin, cout)
        for result in entry['Results']:
            assert result['Dataset'] == names[dataset]
            for metric, value in result['Metrics'].items():
                key = (result['Dataset'], f"{result['Paper']}, {result['Table']}", metric)
                assert reported[key] == pytest.approx(float(value), abs=0), key
                seen.add(key)
    assert seen == set(reported)       # every reported number of the model is listed
    readme = open(osp.join(repo_root, 'configs', model, 'README.md')).read()
    assert all(f"| {r['value']} |" in readme for r in rows)


def test_attention_maps_are_saved_next_to_predictions(tmp_path):
    """SpA-GAN's attention map travels with the prediction and the hook writes it."""
    from crbench.engine.hooks import ComparisonImageHook
    from crbench.structures import CRDataSample
    model = MODELS.build(dict(
        type='GANRestorer',
        generator=dict(type='SpAGANGenerator', in_channels=4),
        discriminator=dict(type='PatchDiscriminator', in_channels=4)))
    inputs = {'cloudy': torch.rand(2, 4, 16, 16) * 2 - 1}
    samples = [CRDataSample(gt=torch.zeros(4, 16, 16), metainfo=dict(sample_id=f's{i}'))
               for i in range(2)]
    out = model.predict(inputs, samples)
    assert out[0].aux_map.shape == (1, 16, 16) and out[0].pred.shape == (4, 16, 16)
    hook = ComparisonImageHook(str(tmp_path), max_images=2)
    hook.before_test(None)
    hook.after_test_iter(None, 0, data_batch={'inputs': inputs}, outputs=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        's0.png', 's0_attention.png', 's1.png', 's1_attention.png']
