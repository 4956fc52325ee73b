"""PMAA end to end: configs/pmaa/pmaa_sen2mtc_new.py with only the widths, loaders,
schedule and learning rate shrunk or raised trains through MMEngine's Runner on a
synthetic Sen2_MTC_New (three dates, 64 px: the PatchGAN's five stride-2 convolutions need it), the generator's L1 term falls, both AdamW
optimisers step, the frozen teacher is read from its file and stays unchanged,
``tools/test.py`` writes a results JSON, and resume is bit-exact."""
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_sen2mtc
from crbench.engine import load_checkpoint_file
from crbench.models.reference.pmaa import pmaa_teacher

from helpers import results_of_test_tool, short_run_options
from test_zoo_end_to_end import REPO, adam_steps, assert_same, build_cfg, train_and_resume

CONFIG = osp.join(REPO, 'configs', 'pmaa', 'pmaa_sen2mtc_new.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_sen2mtc(str(tmp_path_factory.mktemp('pmaa_mtc')), images_per_tile=1, size=64,
                         seed=2)


@pytest.fixture(scope='module')
def teacher_file(tmp_path_factory):
    """A tiny teacher in crbench's layout (what convert_pmaa.py --teacher writes)."""
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('pmaa_teacher') / 'teacher.pth')
    torch.save({'state_dict': pmaa_teacher(dim=4, aspp_hidden=4).state_dict()}, path)
    return path


def options(teacher_file, max_iters, ckpt_interval=None, batch_size=2):
    opts = {'model.generator.dim': 4, 'model.generator.aspp_hidden': 4,
            'model.discriminator.base': 4, 'model.teacher.dim': 4,
            'model.teacher.aspp_hidden': 4, 'model.teacher_checkpoint': teacher_file,
            'optim_wrapper.generator.optimizer.lr': 5e-3,
            'optim_wrapper.discriminator.optimizer.lr': 5e-3}
    return {**opts, **short_run_options(max_iters, batch_size, ckpt_interval)}


@pytest.mark.slow
def test_pmaa_trains_and_tests(data_root, teacher_file, tmp_path):
    iters = 8
    opts = options(teacher_file, iters)
    cfg = build_cfg(CONFIG, tmp_path / 'work', data_root, opts)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == iters
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    assert history[-2:].mean() < 0.85 * history[:2].mean(), history
    for name in ('loss_attention', 'loss_gan', 'loss_d_real', 'loss_d_fake'):
        assert math.isfinite(runner.message_hub.get_scalar(f'train/{name}').current()), name
    model = runner.model
    for name in ('generator', 'discriminator'):
        optimizer = runner.optim_wrapper[name].optimizer
        assert type(optimizer).__name__ == 'AdamW' and adam_steps(optimizer) == {iters}
    # the teacher was read from its file, is frozen, and is not in the checkpoint
    saved = torch.load(teacher_file)['state_dict']
    for key, value in model.cloud_teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert not model.cloud_teacher.training
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    assert not any(k.startswith('cloud_teacher.') for k in load_checkpoint_file(ckpt)['state_dict'])

    record = results_of_test_tool(CONFIG, ckpt, data_root, tmp_path, opts)
    assert record['model'] == 'pmaa' and record['protocol'] == 'sen2mtc_official'
    assert record['synthetic'] is True and record['n_images'] >= 1
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM'))


@pytest.mark.slow
def test_pmaa_resume_is_bit_exact(data_root, teacher_file, tmp_path, restore_determinism):
    def make_cfg(work_dir, n):
        opts = options(teacher_file, n, ckpt_interval=2, batch_size=1)
        opts['randomness.deterministic'] = True
        return build_cfg(CONFIG, work_dir, data_root, opts)

    straight, resumed, middle = train_and_resume(make_cfg, 4, 2, tmp_path)
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    start = load_checkpoint_file(middle)['state_dict']
    assert not torch.equal(start['generator.head.weight'],
                           resumed.model.state_dict()['generator.head.weight'])
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
