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
