"""MemoryNet through the real MMEngine Runner: loss falls, resume is exact."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from crbench.datasets.synthetic import write_cuhk

TINY_MEMORYNET = dict(type='MemoryNet', in_channels=4, n_feat=8, scale_unetfeats=4,
                      scale_orsnetfeats=4, num_cab=1)


@pytest.fixture(scope='module')
def cuhk_root(tmp_path_factory):
    top = write_cuhk(str(tmp_path_factory.mktemp('cuhk')), 'CUHK-CR2',
                     {'train': 4, 'test': 2}, size=32, seed=1)
    return osp.join(top, 'CUHK-CR2')


def tiny_cfg(repo_root, data_root, work_dir, max_iters, lr=1e-3):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/memorynet/memorynet_cuhkcr2.py'))
    cfg.model.generator = TINY_MEMORYNET
    cfg.optim_wrapper.optimizer.lr = lr
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10**6)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.work_dir = work_dir
    return cfg


def test_full_size_config_builds_with_exact_count(repo_root):
    from crbench.registry import MODELS
    cfg = Config.fromfile(osp.join(repo_root, 'configs/memorynet/memorynet_cuhkcr1.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.generator.parameters()) == 3_638_993


def test_training_lowers_the_loss(repo_root, cuhk_root, tmp_path):
    cfg = tiny_cfg(repo_root, cuhk_root, str(tmp_path), max_iters=12)
    cfg.train_dataloader.batch_size = 4
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 12
    assert losses[-3:].mean() < 0.8 * losses[:3].mean()


def test_resume_matches_uninterrupted_training(repo_root, cuhk_root, tmp_path):
    straight = Runner.from_cfg(tiny_cfg(repo_root, cuhk_root, str(tmp_path / 'a'), 4))
    straight.train()
    first = Runner.from_cfg(tiny_cfg(repo_root, cuhk_root, str(tmp_path / 'b'), 2))
    first.train()
    cfg = tiny_cfg(repo_root, cuhk_root, str(tmp_path / 'b'), 4)
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
