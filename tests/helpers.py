"""Small helpers shared by several test modules (``from helpers import n_params``).

``tests/`` is on ``sys.path`` because ``tests/conftest.py`` sits in a folder
without ``__init__.py`` (pytest's default ``prepend`` import mode).
"""
from torch import nn


def n_params(module: nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (tools are scripts, not a package)."""
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'crbench_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def short_run_options(max_iters: int, batch_size: int, ckpt_interval: int = None,
                      deterministic: bool = False) -> dict:
    """``--cfg-options`` of a short training run: ``max_iters`` iterations of ``batch_size``,
    no validation, a checkpoint every ``ckpt_interval`` (default: at the end), a log line per
    iteration, loaders in the main process; the same dict serves tools/test.py."""
    opts = {'train_dataloader.batch_size': batch_size, 'train_cfg.max_iters': max_iters,
            'train_cfg.val_interval': 10**6,
            'default_hooks.checkpoint.interval': ckpt_interval or max_iters,
            'default_hooks.checkpoint.save_best': None, 'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    if deterministic:
        opts['randomness.deterministic'] = True
    return opts


def results_of_test_tool(config: str, checkpoint: str, data_root: str, out_dir,
                         options: dict = None) -> dict:
    """Run ``tools/test.py`` on ``checkpoint`` (work dir ``out_dir/test``, results in
    ``out_dir/results``, ``options`` as ``--cfg-options``), check it exits 0 and return the
    one results JSON it wrote."""
    import glob
    import json
    import os.path as osp
    results = osp.join(str(out_dir), 'results')
    argv = [str(config), str(checkpoint), '--data-root', str(data_root), '--work-dir',
            osp.join(str(out_dir), 'test'), '--results-dir', results]
    if options:
        argv += ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    assert load_tool('test').main(argv) == 0
    (path, ) = glob.glob(osp.join(results, '*.json'))
    with open(path) as f:
        return json.load(f)


# Models with a smoke config in configs/smoke/. The methods added for the papers' tables
# (ctgan, diffcr, dsen2_cr, glf_cr, pix2pix, pmaa, stgan) have tiny end-to-end tests under
# tests/models/ but no smoke config yet.
SMOKE_MODELS = ('amgan_cr', 'cvae', 'de', 'emrdm', 'memorynet', 'msda_cr', 'spagan', 'uncrtaints')


# A user's own network, as a plugin package outside crbench registers it (the source of
# the package's __init__.py; custom_imports or --plugin imports it in a tool's process).
RESIDUAL_NET_PLUGIN = '''
import torch
from crbench.registry import MODELS


@MODELS.register_module()
class ResidualConvNet(torch.nn.Module):
    """A user's baseline: predicts a residual with two convolutions."""
    def __init__(self, bands=4, width=8):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(bands, width, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(width, bands, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)
'''


def with_pythonpath(*folders: str) -> dict:
    """The environment plus ``folders`` in front of any PYTHONPATH already set."""
    import os
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (*folders, env.get('PYTHONPATH')) if p)
    return env


def run_python(cwd, env, *args, timeout=600) -> str:
    """Run ``python ARGS`` (a tool script or ``-m crbench ...``) in ``cwd``; its stdout.
    Fails the test with the end of both streams when it exits non-zero."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f'{args} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}'
    return out.stdout
