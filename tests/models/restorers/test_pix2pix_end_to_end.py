"""configs/pix2pix/pix2pix_sen2mtc_new.py end to end through the Runner on a synthetic
Sen2_MTC_New (64 px, U-Net with 6 levels): falling L1, both optimisers step, results JSON,
exact resume."""
import math
import os.path as osp

import pytest
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_sen2mtc

from helpers import results_of_test_tool, short_run_options
from test_zoo_end_to_end import adam_steps, assert_same, build_cfg, train_and_resume

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'pix2pix', 'pix2pix_sen2mtc_new.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_sen2mtc(str(tmp_path_factory.mktemp('pix2pix_mtc')),
                         tiles={'train': ['T01AAA'], 'val': ['T02BBB'], 'test': ['T03CCC']},
                         images_per_tile=2, size=64, seed=4)


def tiny_options(iters, ckpt=None, deterministic=False):
    opts = {'model.generator.ngf': 4, 'model.generator.num_downs': 6,
            'model.discriminator.ndf': 4,
            'optim_wrapper.generator.optimizer.lr': 2e-3,
            'optim_wrapper.discriminator.optimizer.lr': 2e-3,
            'param_scheduler.0.begin': iters // 2, 'param_scheduler.0.end': iters}
    return {**opts, **short_run_options(iters, 2, ckpt, deterministic)}


@pytest.mark.slow
def test_pix2pix_config_trains_and_tests(data_root, tmp_path):
    iters = 10
    options = tiny_options(iters)
    cfg = build_cfg(CONFIG, tmp_path / 'work', data_root, options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    assert history[-2:].mean() < 0.85 * history[:2].mean(), history
    for name in ('generator', 'discriminator'):
        assert adam_steps(runner.optim_wrapper[name].optimizer) == {iters}, name
    assert runner.optim_wrapper['generator'].get_lr()['lr'][0] < 2e-3 * 0.1  # linear decay

    record = results_of_test_tool(CONFIG, osp.join(cfg.work_dir, f'iter_{iters}.pth'), data_root,
                                  tmp_path, options)
    assert record['model'] == 'pix2pix' and record['synthetic'] is True
    assert record['protocol'] == 'sen2mtc_official' and record['n_images'] == 2
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM'))


@pytest.mark.slow
def test_pix2pix_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    def make_cfg(work_dir, n):
        return build_cfg(CONFIG, work_dir, data_root, tiny_options(n, ckpt=2, deterministic=True))

    straight, resumed, _ = train_and_resume(make_cfg, 4, 2, tmp_path)
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
