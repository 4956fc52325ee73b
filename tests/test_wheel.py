"""``pip install .`` (non-editable) gives a working ``crbench`` outside the repository.

A wheel is built from a copy of the source tree and installed, without its
dependencies, into a fresh virtual environment that reuses the test
environment's packages through a ``.pth`` line (no download, no build
isolation). Every command then runs from a temporary folder outside the
repository, with configs given relative to the packaged configs.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SOURCES = ('crbench', 'configs', 'leaderboard', 'setup.py', 'setup.cfg', 'pyproject.toml',
           'README.md')


def _run(cmd, cwd, env, timeout=300):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f'{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}'
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(bin folder, environment, work folder) of a venv holding only the crbench wheel."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', 'results', 'plots', 'build')
    for name in SOURCES:
        path = osp.join(REPO, name)
        if osp.isdir(path):
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(PIP_NO_INPUT='1', PIP_DISABLE_PIP_VERSION_CHECK='1', OMP_NUM_THREADS='1')
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
          '--no-index', '-q', '-w', str(tmp / 'dist'), str(src)], tmp, env)
    (wheel, ) = (tmp / 'dist').glob('crbench-*.whl')
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], tmp, env)
    python = venv / 'bin' / 'python'
    site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()'
                           '["purelib"])'], capture_output=True, text=True).stdout.strip()
    # the dependencies of the test environment, but not its (editable) crbench: a
    # path line adds the folder without running the .pth files inside it
    with open(osp.join(site, 'shared_dependencies.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    _run([sys.executable, '-m', 'pip', '--python', str(python), 'install', '--no-deps',
          '--no-index', '-q', str(wheel)], tmp, env)
    work = tmp / 'work'
    work.mkdir()
    env['PATH'] = f'{venv / "bin"}{os.pathsep}{env.get("PATH", "")}'
    return venv / 'bin', env, work


@pytest.mark.slow
def test_installed_crbench_runs_outside_the_repository(installed):
    bin_dir, env, work = installed
    crbench = str(bin_dir / 'crbench')
    text = _run([crbench, '--help'], work, env)
    from crbench.commands import COMMANDS
    for name in COMMANDS:
        assert f'  {name} ' in text
    assert 'MemoryNet' in _run([crbench, 'zoo', '--json'], work, env)

    _run([crbench, 'synthetic', '--dataset', 'cuhk_cr2', '--out', 'data', '--size', '32',
          '--train', '2', '--test', '2'], work, env)
    root = 'data/C-CUHK/CUHK-CR2'
    overrides = ['--cfg-options', 'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
                 'default_hooks.checkpoint.interval=1', 'model.generator.n_feat=8',
                 'model.generator.scale_unetfeats=4', 'model.generator.scale_orsnetfeats=4']
    # a config path relative to the packaged configs (no configs/ folder here)
    _run([crbench, 'train', 'demo/memorynet_cuhkcr2_demo.py', '--work-dir', 'w',
          '--data-root', root] + overrides, work, env)
    _run([crbench, 'test', 'configs/demo/memorynet_cuhkcr2_demo.py', 'w/iter_1.pth',
          '--work-dir', 'w/test', '--data-root', root, '--results-dir', 'results']
         + overrides, work, env)
    (result, ) = (work / 'results').glob('*.json')
    record = json.loads(result.read_text())
    assert record['synthetic'] is True and record['model'] == 'memorynet'

    out = _run([crbench, 'leaderboard', '--results-dir', 'results', '--out-dir', 'board',
                '--show-synthetic', '--no-plots'], work, env)
    # reported.csv found in the installed package (not in the checkout), and said so
    assert f'using the packaged {bin_dir.parent}' in out.replace('\n', '') and REPO not in out
    page = (work / 'board' / 'README.md').read_text()
    assert '## CUHK-CR2' in page and 'synthetic run' in page
    assert (work / 'board' / 'index.html').is_file()
