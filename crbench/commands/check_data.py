"""``crbench check-data CONFIG``: check your copy of a dataset against what a config reads,
without modifying it.

    crbench check-data configs/_base_/datasets/sen12mscr.py
    crbench check-data configs/_base_/datasets/rice1.py --data-root /data/RICE_DATASET

For every split the config's train/val/test dataloaders use, it reports the number
of samples found against the published count, missing partner files, wrong band
counts or dtypes and unreadable files. Files are opened read-only; nothing is
written anywhere. Exit status 0 when every split is usable, 1 otherwise.
"""
import argparse
import json
import sys


PROG = 'crbench check-data'


def main(argv=None, prog: str = PROG) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a config file (a dataset base config or a model config)')
    parser.add_argument('--data-root', help='check this folder instead of the config data_root')
    parser.add_argument('--deep', action='store_true',
                        help='decode every image, not only the file headers (slower)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='inspect the files of at most N samples per split')
    parser.add_argument('--strict-counts', action='store_true',
                        help='fail when a count differs from the published one')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.progress import Progress

    from crbench.datasets.check import check_dataset
    from crbench.setup_env import register_all_modules
    register_all_modules()
    from ._common import resolve_config
    try:
        config = resolve_config(args.config)
    except FileNotFoundError as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    console = Console(stderr=args.json)
    with Progress(transient=True, console=console) as progress:
        task = progress.add_task('checking files', total=None)
        report = check_dataset(config, deep=args.deep, max_samples=args.max_samples,
                               strict_counts=args.strict_counts, data_root=args.data_root,
                               progress=lambda: progress.advance(task))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        report.render(console)
    return report.exit_status


if __name__ == '__main__':
    sys.exit(main())
