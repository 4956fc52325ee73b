"""``crbench train CONFIG``: train any crbench config (``tools/train.py`` calls this)."""
import argparse
import sys

from ._common import add_run_arguments, resolve_config, set_local_rank

PROG = 'crbench train'


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description='Train a crbench model.')
    parser.add_argument('config', help='config file, e.g. configs/memorynet/memorynet_cuhkcr2.py '
                        '(relative paths are also looked up in the packaged configs)')
    add_run_arguments(parser)
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from the latest checkpoint in the work dir, or from PATH')
    parser.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper)')
    return parser.parse_args(argv)


def main(argv=None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    set_local_rank(args)
    from crbench.apis import ConfigError, check_data, prepare_config
    from crbench.datasets import DatasetLayoutError
    from crbench.datasets.completeness import run_reporting_read_errors
    try:
        config = resolve_config(args.config)
        cfg = prepare_config(config, args.work_dir, args.data_root, args.cfg_options,
                             amp=args.amp)
        check_data(cfg, splits=('train', 'val'))
        from crbench.engine.multi_stage import check_reference_priors  # DE: prior trained?
        check_reference_priors(cfg)
    except (ConfigError, DatasetLayoutError, FileNotFoundError, KeyError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    cfg.launcher = args.launcher

    from crbench.engine.runner import Runner  # console without the config dump
    from crbench.engine.dist import init_distributed  # torn down at exit, see there
    init_distributed(args.launcher)
    if cfg.get('stages'):
        # Multi-stage frameworks (DE: diffusion, then WA, then joint) run every
        # stage in order in one command; see crbench/engine/multi_stage.py.
        from crbench.engine.multi_stage import StageError, train_stages
        try:
            return run_reporting_read_errors('train', train_stages, cfg)
        except StageError as err:
            print(f'{prog}: {err}', file=sys.stderr)
            return 2
    runner = Runner.from_cfg(cfg)
    return run_reporting_read_errors('train', runner.train)  # a damaged file: exit 2


if __name__ == '__main__':
    sys.exit(main())
