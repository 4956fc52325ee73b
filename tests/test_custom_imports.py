"""A user's own baseline, registered from a package outside crbench via custom_imports:
trained, tested and shown in the regenerated leaderboard through the tools, as the README
promises, without editing a crbench file."""
import json
import os
import os.path as osp
import textwrap

import pytest
from helpers import RESIDUAL_NET_PLUGIN, run_python, with_pythonpath


def test_with_pythonpath_keeps_existing_entries(monkeypatch):
    monkeypatch.setenv('PYTHONPATH', '/already/there')
    assert with_pythonpath('/plugin')['PYTHONPATH'] == os.pathsep.join(['/plugin',
                                                                        '/already/there'])
    monkeypatch.delenv('PYTHONPATH')
    assert with_pythonpath('/plugin')['PYTHONPATH'] == '/plugin'


@pytest.mark.slow
def test_custom_baseline_trains_tests_and_shows_in_the_leaderboard(repo_root, tmp_path,
                                                                    monkeypatch):
    # a PYTHONPATH already set (as in many user shells and CI jobs) must be kept
    monkeypatch.setenv('PYTHONPATH', str(tmp_path / 'elsewhere'))
    pkg = tmp_path / 'my_baselines'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(RESIDUAL_NET_PLUGIN)
    config = tmp_path / 'my_config.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [r'{osp.join(repo_root, "configs/_base_/datasets/cuhk_cr2.py")}',
                  r'{osp.join(repo_root, "configs/_base_/schedules/adam_iter.py")}',
                  r'{osp.join(repo_root, "configs/_base_/default_runtime.py")}']
        custom_imports = dict(imports=['my_baselines'], allow_failed_imports=False)
        model_name = 'residual_conv'
        model = dict(type='SupervisedRestorer',
                     generator=dict(type='ResidualConvNet', bands=4),
                     losses=dict(l1=dict(type='CharbonnierLoss')))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
        default_hooks = dict(checkpoint=dict(interval=2, save_best=None))
    '''))
    from crbench.datasets.synthetic import write_cuhk
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 1}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    env = with_pythonpath(str(tmp_path))
    loaders = [f'{k}.{a}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
               for a in ('num_workers=0', 'persistent_workers=False')]

    run_python(repo_root, env, 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'w'),
             '--data-root', data_root, '--cfg-options', *loaders)
    checkpoint = tmp_path / 'w' / 'iter_2.pth'
    assert checkpoint.is_file()

    results = tmp_path / 'results'
    run_python(repo_root, env, 'tools/test.py', str(config), str(checkpoint), '--work-dir',
             str(tmp_path / 't'), '--data-root', data_root, '--results-dir', str(results),
             '--cfg-options', *loaders)
    (result_file,) = results.glob('*.json')
    record = json.loads(result_file.read_text())
    assert record['model'] == 'residual_conv' and record['dataset'] == 'CUHK-CR2'
    assert record['synthetic'] is True and record['n_images'] == 1
    assert {'PSNR', 'SSIM'} <= set(record['metrics'])

    board = tmp_path / 'board'
    run_python(repo_root, env, 'tools/leaderboard.py', '--results-dir', str(results),
             '--reported', osp.join(repo_root, 'leaderboard', 'reported.csv'),
             '--efficiency-dir', str(tmp_path / 'no_efficiency'), '--out-dir', str(board),
             '--show-synthetic', '--no-html', '--no-plots')
    page = (board / 'README.md').read_text()
    # synthetic runs are listed only in their own section, never in the dataset tables
    tables, synthetic_section = page.split('## Synthetic runs', 1)
    assert 'residual_conv' not in tables
    assert '| residual_conv | synthetic run |' in synthetic_section
    assert 'residual_conv' in (board / 'leaderboard.csv').read_text()
