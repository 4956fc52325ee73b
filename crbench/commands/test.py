"""``crbench test CONFIG CHECKPOINT``: test a checkpoint and record the result
(``tools/test.py`` calls this)."""
import argparse
import os
import sys

from ._common import add_run_arguments, resolve_config, set_local_rank

PROG = 'crbench test'


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description='Test a crbench checkpoint.')
    parser.add_argument('config', help='config file (as for crbench train)')
    parser.add_argument('checkpoint', help='a .pth written by crbench train or a converter')
    add_run_arguments(parser)
    parser.add_argument('--results-dir', default='leaderboard/results',
                        help='where the run JSON is written (default: leaderboard/results)')
    parser.add_argument('--no-results', action='store_true', help='do not write a run JSON')
    parser.add_argument('--save-images', metavar='DIR',
                        help='save cloudy | prediction | target comparison grids here')
    parser.add_argument('--save-preds', metavar='DIR',
                        help='write every prediction in the dataset\'s units and format '
                        '(GeoTIFF with the source CRS/transform for SEN12MS-CR, PNG for CUHK/RICE)')
    parser.add_argument('--vis-de', metavar='DIR',
                        help='DE figures per image: W heat map (Fig. 8), mean W per step '
                        '(Fig. 9), x0 trajectory (Fig. 4)')
    parser.add_argument('--max-images', type=int, default=8,
                        help='how many comparison grids --save-images writes')
    parser.add_argument('--allow-incomplete', action='store_true',
                        help='score a test split with missing or damaged files: they are '
                        'left out (found by reading every sample once before the run) and '
                        'the result records incomplete: true; refused by default')
    return parser.parse_args(argv)


def main(argv=None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    set_local_rank(args)
    from crbench.apis import ConfigError, check_data, prepare_config
    from crbench.datasets import DatasetLayoutError
    from crbench.datasets.completeness import (prepare_test_split, read_error_message,
                                               unreadable_message)
    try:
        config = resolve_config(args.config)
        cfg = prepare_config(config, args.work_dir, args.data_root, args.cfg_options)
        if not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist; train '
                                    f'one with `crbench train {args.config}`')
        datasets = check_data(cfg, splits=('test',))
        datasets['test'] = prepare_test_split(cfg, datasets['test'], args.allow_incomplete)
    except (ConfigError, DatasetLayoutError, FileNotFoundError, KeyError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    cfg.load_from = None  # MMEngine loads non-strictly; load_weights (below) is strict
    cfg.launcher = args.launcher
    if args.save_images:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(
            type='ComparisonImageHook', out_dir=args.save_images, max_images=args.max_images)]
    if args.vis_de:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(
            type='DEVisualizationHook', out_dir=args.vis_de, max_images=args.max_images)]
    if args.save_preds:
        from crbench.engine.prediction_writer import find_value_range
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(
            type='PredictionWriterHook', out_dir=args.save_preds,
            value_range=find_value_range(cfg.test_dataloader.dataset.pipeline))]

    from mmengine.dist import is_main_process
    from crbench.engine.runner import Runner  # console without the config dump
    from crbench.engine import UntrustedCheckpointError, WeightsMismatchError, load_weights
    from crbench.engine.dist import init_distributed  # torn down at exit, see there
    from crbench.results import record_test_run
    init_distributed(args.launcher)
    try:
        runner = Runner.from_cfg(cfg)  # builds DE's frozen reference: loaded strictly too
        # strict; generator-only accepted; its meta (conversion, training config) is recorded
        weights_meta = load_weights(runner.model, args.checkpoint, cfg=cfg)
        metrics = runner.test()
    except (UntrustedCheckpointError, WeightsMismatchError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    except RuntimeError as err:  # a damaged data file, also from a loader worker
        if read_error_message(err) is None:
            raise
        print(f'{prog}: {unreadable_message(read_error_message(err), "test")}', file=sys.stderr)
        return 2

    if args.no_results or not is_main_process():
        return 0
    path = record_test_run(cfg=cfg, config=config, checkpoint=args.checkpoint,
                           cfg_options=args.cfg_options, metric=runner.test_evaluator.metrics[0],
                           metrics=metrics, dataset=datasets['test'],
                           results_dir=args.results_dir, allow_incomplete=args.allow_incomplete,
                           weights_meta=weights_meta)
    print(f'{prog}: result written to {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
