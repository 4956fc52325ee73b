#!/usr/bin/env python
"""Train any crbench config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.apis import ConfigError, DictAction, check_data, prepare_config  # noqa: E402
from crbench.datasets import DatasetLayoutError  # noqa: E402
from crbench.datasets.completeness import run_reporting_read_errors  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a crbench model.')
    parser.add_argument('config', help='config file, e.g. configs/memorynet/memorynet_cuhkcr2.py')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--data-root', help='dataset root; overrides data_root of every split')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from the latest checkpoint in the work dir, or from PATH')
    parser.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    try:
        cfg = prepare_config(args.config, args.work_dir, args.data_root, args.cfg_options,
                             amp=args.amp)
        check_data(cfg, splits=('train', 'val'))
    except (ConfigError, DatasetLayoutError, FileNotFoundError, KeyError) as err:
        print(f'crbench train: {err}', file=sys.stderr)
        return 2
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    cfg.launcher = args.launcher

    from mmengine.runner import Runner
    from crbench.engine import init_cpu_distributed
    init_cpu_distributed(args.launcher)
    if cfg.get('stages'):
        # Multi-stage frameworks (DE: diffusion, then WA, then joint) run every
        # stage in order in one command; see crbench/engine/multi_stage.py.
        from crbench.engine.multi_stage import StageError, train_stages
        try:
            return run_reporting_read_errors('train', train_stages, cfg)
        except StageError as err:
            print(f'crbench train: {err}', file=sys.stderr)
            return 2
    runner = Runner.from_cfg(cfg)
    return run_reporting_read_errors('train', runner.train)  # a damaged file: exit 2


if __name__ == '__main__':
    sys.exit(main())
