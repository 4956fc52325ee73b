"""GLF-CR end to end on the synthetic SEN12MS-CR twin: a tiny variant of
configs/glf_cr/glf_cr_sen12mscr.py (network widths, crop, loaders, schedule and learning
rate changed by a config that inherits from it) trains through MMEngine's Runner with a
falling loss, tools/test.py writes a results JSON, and resume is bit-exact (random crops,
stochastic depth and the data order included).
"""
import math
import os.path as osp
import uuid

import pytest
import torch
from mmengine.runner import Runner

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_sen12mscr
from crbench.engine import load_checkpoint_file

from helpers import results_of_test_tool

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
BASE = osp.join(REPO, 'configs', 'glf_cr', 'glf_cr_sen12mscr.py')
TINY = dict(channels=8, growth=4, num_blocks=2, num_layers=2, num_heads=2, window_size=4,
            kernel_size=3, train_size=16)


def write_config(folder, name, iters, ckpt_interval=None, deterministic=False) -> str:
    text = f"""
_base_ = [{BASE!r}]
model = dict(generator={TINY!r})
train_pipeline = [_base_.load_triplet, dict(type='PairedRandomCrop', size=16),
                  _base_.sar_scaling, _base_.optical_scaling, _base_.pack]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = None
val_cfg = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(lr=3e-3))  # a few iterations must move a tiny network
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, gamma=0.5, milestones=[3])]
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval={10 ** 6})
default_hooks = dict(checkpoint=dict(interval={ckpt_interval or iters}, save_best=None),
                     logger=dict(interval=1))
randomness = dict(seed=0, deterministic={deterministic})
"""
    path = osp.join(folder, f'{name}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def runner_for(config, work_dir, data_root, **extra):
    cfg = prepare_config(config, str(work_dir), data_root)
    cfg.experiment_name = f'glf-cr-e2e-{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    cfg.merge_from_dict(extra)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_sen12mscr(str(tmp_path_factory.mktemp('glf_cr_sen12mscr')),
                           patches_per_scene=1, size=32, seed=4)


def test_trains_and_tests(data_root, tmp_path):
    iters = 10
    config = write_config(str(tmp_path), 'glf_cr_tiny', iters)
    runner = runner_for(config, tmp_path / 'work', data_root)
    assert type(runner.model.generator).__name__ == 'GLFCR'
    assert runner.model.input_keys == ('cloudy', 'sar') and runner.model.range.as_tuple() == (0, 1)
    runner.train()
    history = runner.message_hub.get_scalar('train/loss_l1').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    first, last = history[:3].mean(), history[-3:].mean()
    assert last < 0.85 * first, history
    assert runner.optim_wrapper.get_lr()['lr'] == [pytest.approx(1.5e-3)]  # the step schedule ran

    record = results_of_test_tool(config, osp.join(runner.work_dir, f'iter_{iters}.pth'),
                                  data_root, tmp_path)
    assert record['model'] == 'glf_cr' and record['synthetic'] is True
    assert record['protocol'] == 'sen12mscr_official' and record['n_images'] >= 1
    assert all(math.isfinite(record['metrics'][k]) for k in ('PSNR', 'SSIM', 'MAE', 'SAM'))


def test_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    n, k = 5, 3
    config = write_config(str(tmp_path), 'glf_cr_resume', n, ckpt_interval=k, deterministic=True)
    straight = runner_for(config, tmp_path / 'straight', data_root)
    straight.train()
    middle = osp.join(straight.work_dir, f'iter_{k}.pth')
    resumed = runner_for(config, tmp_path / 'resumed', data_root, resume=True, load_from=middle)
    resumed.train()
    assert straight.iter == resumed.iter == n
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    start = load_checkpoint_file(middle)['state_dict']
    assert not torch.equal(start['generator.tail.2.weight'], b['generator.tail.2.weight'])
    oa, ob = straight.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict()
    for pid, state in oa['state'].items():
        for name, value in state.items():
            assert torch.equal(value, ob['state'][pid][name]), (pid, name)
    assert oa['param_groups'][0]['lr'] == ob['param_groups'][0]['lr'] == pytest.approx(1.5e-3)
