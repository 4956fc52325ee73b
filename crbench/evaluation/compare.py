"""Compare two test runs image by image: ``tools/compare_runs.py RUN_A RUN_B``.

RUN_A and RUN_B are result JSONs written by ``tools/test.py`` (each with its
per-image CSV beside it). Per metric, on the images both runs scored, it reports
the paired mean difference B − A with a 95 % paired-bootstrap interval, the
Wilcoxon signed-rank p-value (two-sided, ``scipy.stats.wilcoxon``) and B's win
rate (the share of images where B is better, respecting the metric's direction:
lower RMSE is better). Runs of different datasets, splits or protocols are not
comparable and are refused (exit 2), as are per-image files changed after the run.
"""
import argparse
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional

from .statistics import DEFAULT_RESAMPLES, DEFAULT_SEED, higher_is_better, paired_comparison

MUST_MATCH = ('dataset', 'split', 'protocol')


class IncomparableRunsError(ValueError):
    """Two runs that cannot be compared (different data or protocol, missing files)."""


def load_run(path: str):
    """``(record, per-image DataFrame)`` of a result JSON."""
    from crbench.results import read_per_image
    if not osp.isfile(path):
        raise IncomparableRunsError(f'{path!r} does not exist; give the result JSONs that '
                                    'tools/test.py wrote (leaderboard/results/*.json)')
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as err:
        raise IncomparableRunsError(f'{path!r} is not a readable result JSON ({err})') from None
    try:
        table = read_per_image(record, path)
    except (FileNotFoundError, ValueError) as err:
        raise IncomparableRunsError(str(err)) from None
    if 'sample_id' not in table or table['sample_id'].duplicated().any():
        raise IncomparableRunsError(f'the per-image file of {path!r} has no unique sample_id '
                                    'column')
    return record, table.set_index('sample_id')


def compare_runs(path_a: str, path_b: str, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED, metrics: Optional[List[str]] = None) -> dict:
    """The comparison as a dict (see the module docstring); raises IncomparableRunsError."""
    record_a, table_a = load_run(path_a)
    record_b, table_b = load_run(path_b)
    differ = [f'{key}: {record_a.get(key)!r} vs {record_b.get(key)!r}' for key in MUST_MATCH
              if record_a.get(key) != record_b.get(key)]
    if differ:
        raise IncomparableRunsError(
            'the runs are not comparable, their ' + '; '.join(differ) + '. A paired '
            'comparison needs the same images scored the same way: test both checkpoints '
            'on the same dataset split with the same protocol.')
    common = [i for i in table_a.index if i in set(table_b.index)]
    if not common:
        raise IncomparableRunsError('the runs share no scored image (compare the sample_id '
                                    'columns of their per-image files)')
    scored = [m for m in record_a.get('metrics', {})
              if m in table_a.columns and m in table_b.columns]
    unknown = [m for m in metrics or [] if m not in scored]
    if unknown:
        raise IncomparableRunsError(f'metric(s) {unknown} are not in both runs (they have '
                                    f'{scored})')
    protocol = record_a.get('protocol')
    per_metric: Dict[str, dict] = {}
    for name in metrics or scored:
        a = table_a.loc[common, name].astype(float).to_numpy()
        b = table_b.loc[common, name].astype(float).to_numpy()
        try:
            higher_better = higher_is_better(name, protocol)
        except ValueError as err:
            raise IncomparableRunsError(str(err)) from None
        per_metric[name] = paired_comparison(a, b, higher_better,
                                             n_resamples=n_resamples, seed=seed)
    notes = []
    if record_a.get('synthetic') or record_b.get('synthetic'):
        notes.append('synthetic data: not a real result')
    if len(common) < max(len(table_a), len(table_b)):
        notes.append(f'only {len(common)} of {len(table_a)} / {len(table_b)} images were '
                     'scored by both runs')
    for path, record in ((path_a, record_a), (path_b, record_b)):
        if record.get('incomplete'):
            notes.append(f'{osp.basename(path)} is an incomplete run')
        if (record.get('provenance') or {}).get('variant'):
            notes.append(f'{osp.basename(path)} is a variant of its repository config')
    return dict(run_a=dict(path=path_a, run_id=record_a.get('run_id'), model=record_a.get('model'),
                           config=record_a.get('config')),
                run_b=dict(path=path_b, run_id=record_b.get('run_id'), model=record_b.get('model'),
                           config=record_b.get('config')),
                dataset=record_a.get('dataset'), split=record_a.get('split'), protocol=protocol,
                n_common=len(common), difference='B - A', n_resamples=n_resamples, seed=seed,
                metrics=per_metric, notes=list(dict.fromkeys(notes)))


def _fmt(value, digits=4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.{digits}g}' if abs(value) < 1e-3 and value != 0 else f'{value:.{digits}f}'


def render(result: dict) -> str:
    """A plain-text table of :func:`compare_runs`'s result."""
    a, b = result['run_a'], result['run_b']
    lines = [f"A: {a['model']} ({a['config']}, run {a['run_id']})",
             f"B: {b['model']} ({b['config']}, run {b['run_id']})",
             f"{result['dataset']} {result['split']}, protocol {result['protocol']}, "
             f"{result['n_common']} images scored by both; difference = B - A, 95 % paired "
             f"bootstrap CI ({result['n_resamples']} resamples, seed {result['seed']})", '']
    header = f"{'metric':<14}{'better':>8}{'mean A':>12}{'mean B':>12}{'B - A':>12}" \
             f"{'95 % CI':>26}{'Wilcoxon p':>12}{'B wins':>9}"
    lines += [header, '-' * len(header)]
    for name, r in result['metrics'].items():
        ci = r['ci95']
        ci_text = f'[{_fmt(ci[0])}, {_fmt(ci[1])}]' if ci else 'n/a'
        win = f"{100 * r['win_rate']:.1f} %" if r['win_rate'] is not None else 'n/a'
        lines.append(f"{name:<14}{'higher' if r['higher_is_better'] else 'lower':>8}"
                     f"{_fmt(r['mean_a']):>12}{_fmt(r['mean_b']):>12}{_fmt(r['mean_diff']):>12}"
                     f"{ci_text:>26}{_fmt(r['wilcoxon_p'], 3):>12}{win:>9}")
    lines += [f'note: {n}' for n in result['notes']]
    return '\n'.join(lines)


def main(argv=None, prog: str = 'crbench compare') -> int:
    """``crbench compare`` / ``tools/compare_runs.py``: 0 on success, 2 if refused."""
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run_a', help='result JSON of run A')
    parser.add_argument('run_b', help='result JSON of run B (differences are B - A)')
    parser.add_argument('--metrics', nargs='+', help='only these metrics (default: all)')
    parser.add_argument('--n-resamples', type=int, default=DEFAULT_RESAMPLES,
                        help=f'bootstrap resamples (>= 1000, default {DEFAULT_RESAMPLES})')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--json', action='store_true', help='print the result as JSON')
    args = parser.parse_args(argv)
    if args.n_resamples < 1000:
        print('crbench compare: --n-resamples must be at least 1000', file=sys.stderr)
        return 2
    try:
        result = compare_runs(args.run_a, args.run_b, args.n_resamples, args.seed, args.metrics)
    except IncomparableRunsError as err:
        print(f'crbench compare: {err}', file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
