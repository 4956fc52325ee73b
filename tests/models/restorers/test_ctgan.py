"""CTGANRestorer: its losses, the frozen teacher, and configs/ctgan/ctgan_sen2mtc_new.py end
to end through the Runner on a synthetic Sen2_MTC_New (64 px, tiny conformer)."""
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_sen2mtc
from crbench.models.reference.ctgan import CTGANFeatureExtractor
from crbench.registry import MODELS
from crbench.structures import CRDataSample

from helpers import results_of_test_tool, short_run_options
from test_zoo_end_to_end import adam_steps, assert_same, build_cfg, train_and_resume

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'ctgan', 'ctgan_sen2mtc_new.py')
# The discriminator's 5 stride-2 convolutions need 64 px; widths shrunk (CPU seconds).
TINY_G = dict(type='CTGANGenerator', image_size=64, heads=2, head_dim=8, ngf=4, aspp_hidden=4)
TINY_FE = dict(dim=4, aspp_hidden=4)


def teacher_file(directory, official_names=False, seed=0):
    """A random teacher: the official size under official names, else tiny."""
    torch.manual_seed(seed)
    state = CTGANFeatureExtractor(**({} if official_names else TINY_FE)).state_dict()
    if official_names:  # the official file's names, by the converter's table inverted
        from crbench.converters.ctgan import rename
        names = {rename(k, 'feature_extractor'): k for k in official_fe_keys()}
        state = {names[k]: v for k, v in state.items()}
    path = osp.join(str(directory), f'teacher_{seed}_{int(official_names)}.pth')
    torch.save(state, path)
    return path


def official_fe_keys():
    with open(osp.join(REPO, 'tests', 'data', 'ctgan',
                       'official_state_dict_shapes_64px.json')) as f:
        gen = json.load(f)['generator']
    return [k[len('feature_extractor.'):] for k in gen if k.startswith('feature_extractor.')]


def build(tmp_path, **kw):
    cfg = dict(type='CTGANRestorer', generator=dict(TINY_G),
               discriminator=dict(type='CTGANDiscriminator', in_channels=16, ndf=8),
               pixel_losses=dict(l1=dict(type='L1Loss')), pixel_weights=dict(l1=100.0),
               mask_teacher=dict(checkpoint=teacher_file(tmp_path), **TINY_FE))
    cfg.update(kw)
    return MODELS.build(cfg)


def batch(b=2, size=64, gt_bands=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {'cloudy': torch.rand(b, 3, 4, size, size, generator=g) * 2 - 1}
    samples = [CRDataSample(gt=torch.rand(gt_bands, size, size, generator=g) * 2 - 1)
               for _ in range(b)]
    return inputs, samples


def test_losses_are_the_official_terms(tmp_path):
    model = build(tmp_path).eval()  # eval: dropout off, so the terms can be recomputed
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_gan', 'loss_l1', 'loss_mask', 'loss_aux', 'loss_d_real',
                           'loss_d_fake'}
    x = inputs['cloudy'].flatten(1, 2)
    real = torch.stack([s.gt for s in samples])
    image, maps, aux = model.generator(x)
    d_fake = model.discriminator(x, image)
    # least squares GAN; D's terms halved
    assert torch.allclose(losses['loss_gan'], ((d_fake - 1) ** 2).mean())
    assert torch.allclose(losses['loss_d_fake'], 0.5 * (d_fake ** 2).mean())
    d_real = model.discriminator(x, real)
    assert torch.allclose(losses['loss_d_real'], 0.5 * ((d_real - 1) ** 2).mean())
    assert torch.allclose(losses['loss_l1'], 100 * (image - real).abs().mean())
    assert torch.allclose(losses['loss_aux'], 50 * sum((a - real).abs().mean() for a in aux))
    teacher = [model.mask_teacher(f)[0] for f in inputs['cloudy'].unbind(1)]
    assert torch.allclose(losses['loss_mask'],
                          sum(F.mse_loss(m, t) for m, t in zip(maps, teacher)))


def test_teacher_is_frozen_and_outside_checkpoints(tmp_path):
    model = build(tmp_path)
    model.train()
    model.loss(*batch())
    assert not model.mask_teacher.training
    assert all(not p.requires_grad for p in model.mask_teacher.parameters())
    assert not any(p is q for p in model.parameters() for q in model.mask_teacher.parameters())
    state = model.state_dict()
    assert not any(k.startswith('mask_teacher.') for k in state)
    fresh = build(tmp_path)
    fresh.load_state_dict(state, strict=True)  # the teacher comes from its own file


def test_teacher_reads_the_official_file(tmp_path):
    """The official file (official names) is renamed on load: same tensors as the
    crbench-named file."""
    from crbench.models.restorers.ctgan import build_mask_teacher
    official = teacher_file(tmp_path, official_names=True, seed=3)
    torch.manual_seed(3)
    expected = CTGANFeatureExtractor().state_dict()
    teacher = build_mask_teacher(official)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    loaded = teacher.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_missing_teacher_names_the_converter(tmp_path):
    model = build(tmp_path, mask_teacher=dict(checkpoint=str(tmp_path / 'nope.pth')))
    model.predict(*batch(gt_bands=3))  # inference needs no teacher
    with pytest.raises(FileNotFoundError, match='convert_ctgan.py'):
        model.loss(*batch())


def test_prediction_is_rgb_with_cloud_maps(tmp_path):
    model = build(tmp_path).eval()
    inputs, samples = batch(gt_bands=3)
    out = model.predict(inputs, samples)
    assert out[0].pred.shape == (3, 64, 64) and out[0].aux_map.shape == (3, 64, 64)
    assert out[0].pred.abs().max() <= 1


def test_without_aux_and_teacher(tmp_path):
    model = build(tmp_path, mask_teacher=None, aux_weight=0.0)
    losses = model.loss(*batch())
    assert 'loss_mask' not in losses and 'loss_aux' not in losses


# --------------------------------------------------------------------------------------
# The repository config through the Runner
# --------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_sen2mtc(str(tmp_path_factory.mktemp('ctgan_mtc')),
                         tiles={'train': ['T01AAA'], 'val': ['T02BBB'], 'test': ['T03CCC']},
                         images_per_tile=2, size=64, seed=2)


def tiny_options(teacher, iters, batch_size=2, ckpt=None, deterministic=False):
    opts = {f'model.generator.{k}': v for k, v in TINY_G.items() if k != 'type'}
    opts.update({f'model.mask_teacher.{k}': v for k, v in TINY_FE.items()})
    opts.update({'model.discriminator.ndf': 8, 'model.mask_teacher.checkpoint': teacher,
            'optim_wrapper.generator.optimizer.lr': 2e-3,
            'optim_wrapper.discriminator.optimizer.lr': 2e-3,
            'param_scheduler.0.T_max': iters})
    return {**opts, **short_run_options(iters, batch_size, ckpt, deterministic)}


@pytest.mark.slow
def test_ctgan_config_trains_and_tests(data_root, tmp_path):
    iters = 6
    options = tiny_options(teacher_file(tmp_path), iters)
    cfg = build_cfg(CONFIG, tmp_path / 'work', data_root, options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    assert history[-2:].mean() < 0.85 * history[:2].mean(), history
    for name in ('generator', 'discriminator'):
        assert adam_steps(runner.optim_wrapper[name].optimizer) == {iters}, name
    lr = runner.optim_wrapper['generator'].get_lr()['lr'][0]
    assert lr < 2e-3 * 0.1  # the cosine schedule ran to its end

    record = results_of_test_tool(CONFIG, osp.join(cfg.work_dir, f'iter_{iters}.pth'), data_root,
                                  tmp_path, options)
    assert record['model'] == 'ctgan' and record['synthetic'] is True
    assert record['protocol'] == 'sen2mtc_official' and record['n_images'] == 2
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM'))


@pytest.mark.slow
def test_ctgan_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    teacher = teacher_file(tmp_path)

    def make_cfg(work_dir, n):
        return build_cfg(CONFIG, work_dir, data_root,
                         tiny_options(teacher, n, 2, ckpt=2, deterministic=True))

    straight, resumed, _ = train_and_resume(make_cfg, 4, 2, tmp_path)
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
