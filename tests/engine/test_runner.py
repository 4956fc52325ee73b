"""crbench.engine.runner: the console shows progress and results, the log file keeps the
config, environment and hook dumps (the demo printed ~1,100 lines before)."""
import glob
import io
import logging
import os.path as osp
import subprocess
import sys

import pytest

from crbench.engine.runner import FileOnlyFilter, quiet_console

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['model.generator.n_feat=8', 'model.generator.scale_unetfeats=4',
        'model.generator.scale_orsnetfeats=4', 'model.generator.num_cab=1',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'] + [
    f'{k}.{a}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for a in ('num_workers=0', 'persistent_workers=False')]


def test_filter_is_on_the_console_only(tmp_path):
    logger = logging.Logger('crbench-test-console')
    console, file_path = io.StringIO(), tmp_path / 'run.log'
    logger.addHandler(logging.StreamHandler(console))
    logger.addHandler(logging.FileHandler(file_path))
    quiet_console(logger)
    quiet_console(logger)  # idempotent
    assert sum(isinstance(f, FileOnlyFilter) for h in logger.handlers for f in h.filters) == 1
    logger.warning('Config:\nmodel = dict(...)')
    logger.warning('Iter(train) [1/2] loss: 1.0')
    assert console.getvalue() == 'Iter(train) [1/2] loss: 1.0\n'
    assert 'Config:' in file_path.read_text() and 'Iter(train)' in file_path.read_text()


@pytest.mark.slow
def test_training_console_is_short_and_the_log_file_complete(tmp_path):
    from crbench.datasets.synthetic import write_synthetic
    data_root = write_synthetic('cuhk_cr2', str(tmp_path / 'data'), {'train': 2, 'test': 1},
                                size=32)
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
         '--work-dir', str(work), '--data-root', data_root, '--cfg-options', *TINY],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    for dumped in ('Config:', 'System environment', 'Hooks will be executed',
                   'Failed to search registry'):
        assert dumped not in console, dumped
    assert 'Iter(train) [2/2]' in console and 'Iter(val)' in console
    assert 'Saving checkpoint at 2 iterations' in console
    (log_file,) = glob.glob(str(work / '*' / '*.log'))
    assert f'Full config, environment and hook order: {log_file}' in console
    log = open(log_file).read()
    for dumped in ('Config:', 'System environment', 'Hooks will be executed'):
        assert dumped in log, dumped
    assert len(console.splitlines()) < 40, console
