"""STGAN end to end: configs/stgan/stgan_sen2mtc_new.py with only the widths, U-Net depth,
loaders, schedule and learning rate shrunk or raised trains through MMEngine's Runner on
a synthetic Sen2_MTC_New (three dates, 32 px), the L1 term falls, both Adam optimisers
step, ``tools/test.py`` writes a results JSON, and resume is bit-exact."""
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_sen2mtc
from crbench.engine import load_checkpoint_file

from helpers import results_of_test_tool, short_run_options
from test_zoo_end_to_end import REPO, adam_steps, assert_same, build_cfg, train_and_resume

CONFIG = osp.join(REPO, 'configs', 'stgan', 'stgan_sen2mtc_new.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_sen2mtc(str(tmp_path_factory.mktemp('stgan_mtc')), images_per_tile=1, size=32,
                         seed=3)


def options(max_iters, ckpt_interval=None, batch_size=2):
    # 5 levels: the innermost map of a 32 px input is 1 x 1, as 8 levels make it at 256 px
    opts = {'model.generator.ngf': 4, 'model.generator.num_downs': 5, 'model.discriminator.ndf': 4,
            'optim_wrapper.generator.optimizer.lr': 5e-3,
            'optim_wrapper.discriminator.optimizer.lr': 5e-3}
    return {**opts, **short_run_options(max_iters, batch_size, ckpt_interval)}


@pytest.mark.slow
def test_stgan_trains_and_tests(data_root, tmp_path):
    iters = 10
    opts = options(iters)
    cfg = build_cfg(CONFIG, tmp_path / 'work', data_root, opts)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == iters
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    assert history[-2:].mean() < 0.85 * history[:2].mean(), history
    for name in ('generator', 'discriminator'):
        assert adam_steps(runner.optim_wrapper[name].optimizer) == {iters}, name
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    record = results_of_test_tool(CONFIG, ckpt, data_root, tmp_path, opts)
    assert record['model'] == 'stgan' and record['protocol'] == 'sen2mtc_official'
    assert record['synthetic'] is True and record['n_images'] >= 1
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM'))


@pytest.mark.slow
def test_stgan_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    def make_cfg(work_dir, n):
        opts = options(n, ckpt_interval=2)
        opts['randomness.deterministic'] = True
        return build_cfg(CONFIG, work_dir, data_root, opts)

    straight, resumed, middle = train_and_resume(make_cfg, 4, 2, tmp_path)
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    start = load_checkpoint_file(middle)['state_dict']
    assert not torch.equal(start['generator.decoder.4.weight'],
                           resumed.model.state_dict()['generator.decoder.4.weight'])
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
