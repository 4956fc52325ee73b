"""tools/train.py and tools/test.py as a user runs them."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from crbench.datasets.synthetic import write_cuhk

TINY = ['model.generator.n_feat=8', 'model.generator.scale_unetfeats=4',
        'model.generator.scale_orsnetfeats=4', 'model.generator.num_cab=1']


def run_tool(repo_root, *args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='1')  # one thread per process on 2-core machines
    return subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_train_without_data_names_path_and_layout(repo_root, tmp_path):
    missing = str(tmp_path / 'no_such_dataset' / 'CUHK-CR2')
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', str(tmp_path / 'w'), '--data-root', missing)
    assert out.returncode == 2
    assert missing in out.stderr and 'Expected layout' in out.stderr
    assert 'nir/' in out.stderr and 'Traceback' not in out.stderr


def test_default_data_root_missing_is_explained(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'data/C-CUHK/CUHK-CR2' in out.stderr


def test_misspelt_config_key_is_refused(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--cfg-options', 'optim_wraper.optimizer.lr=1', '--work-dir',
                   str(tmp_path / 'w'))
    assert out.returncode == 2
    assert "'optim_wraper'" in out.stderr and 'optim_wrapper' in out.stderr


def test_unknown_registry_name_is_refused(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--cfg-options', 'model.generator.type=MemoryNett', '--work-dir',
                   str(tmp_path / 'w'))
    assert out.returncode == 2
    assert 'MemoryNett' in out.stderr and "'MemoryNet'" in out.stderr


@pytest.mark.slow
def test_train_then_test_writes_a_synthetic_result(repo_root, tmp_path):
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 2}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    work = str(tmp_path / 'work')
    common = ['--data-root', data_root, '--cfg-options', *TINY,
              'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
              'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', work, *common, 'train_cfg.max_iters=2',
                   'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    checkpoint = osp.join(work, 'iter_2.pth')
    results = str(tmp_path / 'results')
    for _ in range(2):  # a re-run replaces its own result file
        out = run_tool(repo_root, 'tools/test.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                       checkpoint, '--work-dir', str(tmp_path / 'test'), '--results-dir',
                       results, '--save-images', str(tmp_path / 'vis'), *common)
        assert out.returncode == 0, out.stderr[-3000:]
    files = glob.glob(osp.join(results, '*.json'))
    assert len(files) == 1
    record = json.load(open(files[0]))
    assert record['synthetic'] is True and record['dataset'] == 'CUHK-CR2'
    assert record['protocol'] == 'cuhk_official' and record['n_images'] == 2
    assert set(record['metrics']) >= {'PSNR', 'SSIM', 'RMSE'}
    assert 'LPIPS' not in record['metrics'] and 'LPIPS' in record['unavailable_metrics']
    assert len(record['checkpoint_sha256']) == 64
    assert len(glob.glob(str(tmp_path / 'vis' / '*.png'))) == 2

    board = str(tmp_path / 'board')
    out = run_tool(repo_root, 'tools/leaderboard.py', '--results-dir', results, '--out-dir',
                   board, '--show-synthetic', '--no-html')
    assert out.returncode == 0, out.stderr[-3000:]
    text = open(osp.join(board, 'README.md')).read()
    synthetic_part = text.split('synthetic)', 1)
    assert len(synthetic_part) == 2 and record['run_id'] in synthetic_part[1]
    assert record['run_id'] not in synthetic_part[0]


def test_random_backbone_lpips_is_never_recorded():
    from crbench.results import InvalidResultError, build_record
    with pytest.raises(InvalidResultError, match='random'):
        build_record(model='m', config='c', dataset='CUHK-CR2', split='test',
                     protocol='cuhk_official', metrics={'LPIPS_RANDOM_BACKBONE_TEST_ONLY': 0.1},
                     n_images=1, checkpoint=None, synthetic=True)
