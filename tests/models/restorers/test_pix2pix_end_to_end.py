"""configs/pix2pix/pix2pix_sen2mtc_new.py end to end through the Runner on a synthetic
Sen2_MTC_New (64 px, U-Net with 6 levels): falling L1, both optimisers step, results JSON,
exact resume."""
import glob
import json
import math
import os.path as osp
import uuid

import pytest
import torch
from mmengine.runner import Runner

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_sen2mtc

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
            'param_scheduler.0.begin': iters // 2, 'param_scheduler.0.end': iters,
            'train_dataloader.batch_size': 2, 'train_cfg.max_iters': iters,
            'train_cfg.val_interval': 10**6, 'default_hooks.checkpoint.interval': ckpt or iters,
            'default_hooks.checkpoint.save_best': None, 'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    if deterministic:
        opts['randomness.deterministic'] = True
    return opts


def make_runner(work_dir, data_root, options, resume_from=None):
    cfg = prepare_config(CONFIG, str(work_dir), data_root, options)
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    cfg.experiment_name = f'pix2pix-{uuid.uuid4().hex[:8]}'
    return cfg, Runner.from_cfg(cfg)


@pytest.mark.slow
def test_pix2pix_config_trains_and_tests(data_root, tmp_path):
    from tests.helpers import load_tool
    iters = 10
    options = tiny_options(iters)
    cfg, runner = make_runner(tmp_path / 'work', data_root, options)
    runner.train()
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    assert history[-2:].mean() < 0.85 * history[:2].mean(), history
    for name in ('generator', 'discriminator'):
        steps = {int(s['step']) for s in runner.optim_wrapper[name].optimizer.state.values()}
        assert steps == {iters}, name
    assert runner.optim_wrapper['generator'].get_lr()['lr'][0] < 2e-3 * 0.1  # linear decay

    results = tmp_path / 'results'
    argv = [CONFIG, osp.join(cfg.work_dir, f'iter_{iters}.pth'), '--work-dir',
            str(tmp_path / 'test'), '--data-root', data_root, '--results-dir', str(results),
            '--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    assert load_tool('test').main(argv) == 0
    (path, ) = glob.glob(str(results / '*.json'))
    with open(path) as f:
        record = json.load(f)
    assert record['model'] == 'pix2pix' and record['synthetic'] is True
    assert record['protocol'] == 'sen2mtc_official' and record['n_images'] == 2
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM'))


@pytest.mark.slow
def test_pix2pix_resume_is_bit_exact(data_root, tmp_path):
    from tests.models.restorers.test_zoo_end_to_end import assert_same
    state = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        _, straight = make_runner(tmp_path / 'a', data_root,
                                  tiny_options(4, ckpt=2, deterministic=True))
        straight.train()
        _, resumed = make_runner(tmp_path / 'b', data_root,
                                 tiny_options(4, ckpt=2, deterministic=True),
                                 resume_from=osp.join(straight.work_dir, 'iter_2.pth'))
        resumed.train()
    finally:
        torch.use_deterministic_algorithms(state[0], warn_only=state[1])
    assert straight.iter == resumed.iter == 4
    assert_same(straight.model.state_dict(), resumed.model.state_dict(), 'model')
    assert_same(straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict(),
                'optimizer')
