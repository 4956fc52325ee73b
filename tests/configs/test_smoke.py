"""The smoke configs (configs/smoke/): tiny, on the synthetic twins, and DE's runs end to end.

The slow test runs the commands of configs/de/README.md's "Smoke test" section through the
real tools, in a fresh folder as a user would from a clone: synthetic data, the reference
prior, the three DE stages (which find the prior where the prior's training left it), test.
"""
import glob
import json
import os.path as osp

import pytest
from helpers import SMOKE_MODELS, load_tool
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMOKE = sorted(glob.glob(osp.join(REPO, 'configs', 'smoke', '*.py')))
MODELS = SMOKE_MODELS
SYNTHETIC_ROOT = 'data/synthetic/C-CUHK/CUHK-CR2'


def tool(name):
    return load_tool(name).main


def test_every_model_has_a_smoke_config():
    names = [osp.basename(p) for p in SMOKE]
    for model in MODELS:
        assert f'{model}_smoke_cuhkcr2.py' in names, model


@pytest.mark.parametrize('path', SMOKE, ids=osp.basename)
def test_smoke_config_is_small_and_synthetic(path):
    cfg = Config.fromfile(path)
    runs = [cfg.train_cfg] + [s['cfg_options']['train_cfg'] for s in cfg.get('stages') or []]
    for train_cfg in runs:
        assert train_cfg.max_iters <= 20 and train_cfg.val_interval <= train_cfg.max_iters
    assert cfg.default_hooks.checkpoint.interval <= 10  # frequent checkpoints
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == SYNTHETIC_ROOT and cfg[key].num_workers == 0
    if cfg.model.type == 'DiffusionEnhancement':
        # the prior is where the MemoryNet smoke config's training leaves its final checkpoint
        prior = Config.fromfile(osp.join(REPO, cfg.model.reference_train_config))
        assert dict(cfg.model.reference) == dict(prior.model.generator)
        stem = osp.splitext(osp.basename(cfg.model.reference_train_config))[0]
        assert cfg.model.reference_checkpoint == \
            f'work_dirs/{stem}/iter_{prior.train_cfg.max_iters}.pth'
        assert len(cfg.stages) == 3


@pytest.mark.slow
def test_de_smoke_prior_three_stages_test(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths (data, work_dirs) as in a fresh clone
    smoke = osp.join(REPO, 'configs', 'smoke')
    assert tool('make_synthetic_data')(['--dataset', 'cuhk_cr2', '--out', 'data/synthetic',
                                        '--size', '64', '--train', '4', '--test', '2']) == 0
    train, test = tool('train'), tool('test')
    # 1. the reference prior
    assert train([osp.join(smoke, 'memorynet_smoke_cuhkcr2.py')]) == 0
    assert osp.isfile('work_dirs/memorynet_smoke_cuhkcr2/iter_20.pth')
    # 2. DE's three stages in one command, reading that prior
    config = osp.join(smoke, 'de_smoke_cuhkcr2.py')
    assert train([config]) == 0
    for stage in ('stage1_diffusion', 'stage2_wa', 'stage3_joint'):
        with open(osp.join('work_dirs/de_smoke_cuhkcr2', stage, 'STAGE_COMPLETE')) as f:
            assert json.load(f)['iter'] == 10
    # 3. test the final model: a results JSON marked synthetic
    assert test([config, 'work_dirs/de_smoke_cuhkcr2/stage3_joint/iter_10.pth',
                 '--results-dir', 'results']) == 0
    (path, ) = glob.glob('results/*.json')
    with open(path) as f:
        record = json.load(f)
    assert record['synthetic'] is True and record['protocol'] == 'cuhk_official'
    assert record['model'].startswith('de_memorynet')
    assert {'PSNR', 'SSIM', 'RMSE'} <= set(record['metrics'])
