"""``crbench leaderboard``: regenerate the leaderboard from reported numbers and run files.

    crbench leaderboard [--results-dir leaderboard/results]
        [--reported leaderboard/reported.csv] [--out-dir leaderboard]
        [--efficiency-dir leaderboard/efficiency] [--select latest|best]
        [--show-synthetic] [--no-html] [--no-plots]

Writes <out-dir>/README.md, <out-dir>/leaderboard.csv, <out-dir>/index.html and
the figures <out-dir>/plots/*.png (metric bars per dataset, PSNR against MACs).
The efficiency table puts the papers' numbers (reported_efficiency.csv) beside
the measurements of tools/benchmark.py (efficiency/*.json).
Outputs carry no timestamp: running twice on the same inputs changes nothing
(PNGs included, with the same matplotlib and fonts).

--select decides which run represents a model x dataset x split x protocol
group when there are several: `latest` (most recent `date`) or `best` (best
primary metric: PSNR if the run has it). A row never mixes runs.
Synthetic runs (`synthetic: true`) are never in the dataset tables; with
--show-synthetic they are listed in a separate last section.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from crbench.leaderboard import LeaderboardError, LeaderboardWarning, write_leaderboard
from crbench.leaderboard.collect import dataset_rank, known_datasets
from crbench.model_index import ModelIndexError

PROG = 'crbench leaderboard'


def parse_args(argv=None, prog: str = PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--results-dir', default='leaderboard/results',
                   help='folder of run JSON files written by tools/test.py')
    p.add_argument('--reported', default=None,
                   help='numbers transcribed from the papers (default: leaderboard/reported.csv '
                   'here, else the copy shipped with crbench)')
    p.add_argument('--efficiency', default=None,
                   help='reported parameter counts / MACs (default: reported_efficiency.csv '
                        'next to --reported, skipped if absent)')
    p.add_argument('--efficiency-dir', default=None,
                   help='folder of tools/benchmark.py JSON files (default: efficiency/ next '
                        'to --reported, skipped if absent)')
    p.add_argument('--out-dir', default='leaderboard', help='where README.md etc. are written')
    p.add_argument('--select', choices=('latest', 'best'), default='latest',
                   help='which run represents a group of runs (default: latest)')
    p.add_argument('--show-synthetic', action='store_true',
                   help='list synthetic runs in a separate last section')
    p.add_argument('--html', action=argparse.BooleanOptionalAction, default=True,
                   help='also write index.html (default: on)')
    p.add_argument('--plots', action=argparse.BooleanOptionalAction, default=True,
                   help='also write plots/*.png and link them (default: on)')
    p.add_argument('--plugin', action='append', default=[], metavar='MODULE',
                   help='import MODULE first (registers datasets/protocols) and read its '
                   'package\'s metafile.yml; the custom_imports of the runs\' configs are '
                   'imported anyway')
    p.add_argument('--metafile', action='append', default=[], metavar='PATH',
                   help='an extra metafile.yml (model display names and order)')
    return p.parse_args(argv)


def print_summary(result: dict, console) -> None:
    from rich.table import Table

    tidy = result['tidy']
    table = Table(title='crbench leaderboard')
    for col in ('Dataset', 'Reported numbers', 'Models reported', 'Reproduced (runs)',
                'Synthetic (runs)'):
        table.add_column(col)
    datasets = sorted(set(known_datasets()) | set(tidy.dataset), key=dataset_rank)
    for ds in datasets:
        d = tidy[tidy.dataset == ds]
        rep = d[d.kind == 'reported']
        real = [r for r in result['selected'] if r['dataset'] == ds and not r['synthetic']]
        syn = [r for r in result['runs'] if r['dataset'] == ds and r['synthetic']]
        table.add_row(
            ds, str(len(rep)), str(rep.model.nunique()),
            ', '.join(f"{r['model']} ({r['n_runs']})" for r in real) or '—',
            str(len(syn)) if syn else '—')
    console.print(table)
    if result.get('measured'):
        console.print(f"{len(result['measured'])} efficiency measurement(s) "
                      '(tools/benchmark.py) in the efficiency table.')
    for path, reason in result['skipped']:
        console.print(f'[yellow]skipped {path}: {reason}[/yellow]', highlight=False,
                      soft_wrap=True)
    if result['n_synthetic']:
        console.print(f"{result['n_synthetic']} synthetic run(s) "
                      + ('listed in the synthetic section.' if result.get('show_synthetic')
                         else 'hidden (use --show-synthetic).'))
    for path in result['written'].values():
        console.print(f'wrote {path}', highlight=False, soft_wrap=True)


def main(argv=None, prog: str = PROG) -> int:
    from rich.console import Console

    args = parse_args(argv, prog)
    console = Console()
    reported = args.reported
    if reported is None:
        reported = Path('leaderboard/reported.csv')
        if not reported.is_file():
            from crbench.leaderboard.collect import default_leaderboard_dir
            reported = default_leaderboard_dir() / 'reported.csv'
            console.print(f'using the packaged {reported} (no leaderboard/reported.csv here)',
                          highlight=False, soft_wrap=True)
    efficiency = args.efficiency if args.efficiency is not None else 'auto'
    efficiency_dir = args.efficiency_dir if args.efficiency_dir is not None else 'auto'
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = write_leaderboard(args.results_dir, reported, args.out_dir,
                                       select=args.select, show_synthetic=args.show_synthetic,
                                       html=args.html, efficiency=efficiency,
                                       efficiency_dir=efficiency_dir, plots=args.plots,
                                       plugins=args.plugin, metafiles=args.metafile)
    except (LeaderboardError, ModelIndexError, ImportError) as e:
        Console(stderr=True).print(f'[red]error:[/red] {e}', highlight=False, soft_wrap=True)
        return 2
    result['show_synthetic'] = args.show_synthetic
    print_summary(result, console)
    # what the summary does not list already (its skipped files): e.g. a run's plugin
    # that cannot be imported, which is why its rows are labelled unknown
    for w in caught:
        if issubclass(w.category, LeaderboardWarning) and \
                not str(w.message).startswith('leaderboard: skipping'):
            console.print(f'[yellow]{w.message}[/yellow]', highlight=False, soft_wrap=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
