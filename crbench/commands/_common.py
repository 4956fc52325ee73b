"""What several sub-commands share: the arguments of train and test, config lookup."""
import argparse
import os
import os.path as osp
from typing import List

from crbench.apis import DictAction

#: Environment variable naming a folder of configs (laid out like the repository's configs/).
CONFIG_DIR_ENV = 'CRBENCH_CONFIG_DIR'


def config_roots() -> List[str]:
    """Folders relative config paths are looked up in, in order."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    roots = [os.environ.get(CONFIG_DIR_ENV, ''),
             osp.join(osp.dirname(package), 'configs'),  # a source checkout
             osp.join(package, 'configs')]                # the installed package data
    return [r for r in dict.fromkeys(roots) if r and osp.isdir(r)]


def resolve_config(path: str) -> str:
    """``path`` if it exists, else the same relative path under a config root.

    ``configs/memorynet/memorynet_cuhkcr2.py`` and ``memorynet/memorynet_cuhkcr2.py``
    both work from any directory. Missing configs raise ``FileNotFoundError``
    naming the folders searched and how to add one.
    """
    if osp.isfile(path) or osp.isabs(path):
        return path
    rel = osp.normpath(path)
    candidates = [rel]
    if rel.split(os.sep)[0] == 'configs':
        candidates.append(osp.join(*rel.split(os.sep)[1:]) if os.sep in rel else rel)
    roots = config_roots()
    for root in roots:
        for cand in candidates:
            full = osp.join(root, cand)
            if osp.isfile(full):
                return full
    raise FileNotFoundError(
        f'config file {path!r} does not exist here or under {roots or "no config folder"}; '
        'configs live under configs/<model>/, e.g. configs/memorynet/memorynet_cuhkcr2.py '
        f'(list them with `crbench zoo`). Set {CONFIG_DIR_ENV}=/path/to/configs to use '
        'another folder.')


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of every command that builds a Runner from a config (train, test)."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--data-root', help='dataset root; overrides data_root of every split')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed runs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100 (misspelt '
                        'keys are refused)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def set_local_rank(args: argparse.Namespace) -> None:
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
