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
    return parser.parse_args(argv)


def main(argv=None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    set_local_rank(args)
    from crbench.apis import ConfigError, check_data, prepare_config
    from crbench.datasets import DatasetLayoutError
    try:
        config = resolve_config(args.config)
        cfg = prepare_config(config, args.work_dir, args.data_root, args.cfg_options)
        if not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist; train '
                                    f'one with `crbench train {args.config}`')
        datasets = check_data(cfg, splits=('test',))
    except (ConfigError, DatasetLayoutError, FileNotFoundError, KeyError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    cfg.load_from = args.checkpoint
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
    from mmengine.runner import Runner
    from crbench.engine import UntrustedCheckpointError, init_cpu_distributed
    from crbench.results import build_record, write_record
    init_cpu_distributed(args.launcher)
    runner = Runner.from_cfg(cfg)
    try:
        metrics = runner.test()
    except UntrustedCheckpointError as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2

    if args.no_results or not is_main_process():
        return 0
    metric = runner.test_evaluator.metrics[0]
    dataset_cfg = cfg.test_dataloader.dataset
    dataset = datasets['test']
    record = build_record(
        model=cfg.model_name, model_display=cfg.get('model_display'), config=args.config,
        dataset=dataset_cfg.get('dataset_name', dataset.DATASET_NAME), split=dataset.split,
        protocol=metric.protocol.name, metrics=metrics,
        n_images=metrics.get('n_images', len(dataset)), checkpoint=args.checkpoint,
        synthetic=dataset.synthetic, unavailable_metrics=getattr(metric, 'unavailable', []),
        extra=dict(data_root=dataset.data_root))
    path = write_record(record, args.results_dir)
    print(f'{prog}: result written to {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
