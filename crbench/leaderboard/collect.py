"""Collect the numbers that go into the leaderboard.

Two sources:

* ``leaderboard/reported.csv``: numbers transcribed from the papers, one row per
  number (``model,dataset,metric,value,source,table,protocol,note``).
* ``leaderboard/results/*.json``: one file per test run, written by
  ``tools/test.py``.

Nothing here invents a number: every value comes from one of those files.
Reported values keep their printed text (``0.0830`` stays ``0.0830``).
"""
from __future__ import annotations

import csv
import json
import math
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import vocabulary

REPORTED_COLUMNS = ('model', 'dataset', 'metric', 'value', 'source', 'table', 'protocol', 'note')
EFFICIENCY_COLUMNS = ('model', 'params_M', 'macs_G', 'source', 'table')
EFFICIENCY_OPTIONAL = ('dataset', 'complexity_G', 'memory_MB', 'speed_FPS', 'sampling_ms',
                       'note')
RUN_REQUIRED = ('model', 'dataset', 'protocol', 'metrics', 'synthetic')

_KEY_RE = re.compile(r'^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$')
_NUMBER_RE = re.compile(r'^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$')


class LeaderboardError(ValueError):
    """A leaderboard input cannot be used."""


class ReportedCSVError(LeaderboardError):
    """reported.csv (or reported_efficiency.csv) has bad rows; the message lists them."""


class RefusedMetricError(LeaderboardError):
    """A metric key that must never reach the leaderboard (LPIPS with a random backbone)."""


class LeaderboardWarning(UserWarning):
    """A run file was skipped."""


def default_leaderboard_dir() -> Path:
    """The checkout's ``leaderboard/``, else the copy of its inputs shipped in the
    installed package (its ``leaderboard_data`` folder: reported.csv, reported_efficiency.csv,
    metafile.yml, efficiency/)."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package.parent / 'leaderboard', package / 'leaderboard_data'):
        if (folder / 'reported.csv').is_file():
            return folder
    return package.parent / 'leaderboard'


def model_display(model: str, fallback: str | None = None) -> str:
    """Display name of a model key (from the model index; the run's own display
    name, then the key, for models the index does not know)."""
    return vocabulary.current().model_display(model, fallback)


def model_rank(model: str) -> tuple:
    return vocabulary.current().model_rank(model)


def dataset_rank(dataset: str) -> tuple:
    return vocabulary.current().dataset_rank(dataset)


def metric_rank(metric: str) -> tuple:
    return vocabulary.current().metric_rank(metric)


def known_datasets() -> list:
    """Registered dataset names, in display order."""
    return list(vocabulary.current().datasets)


def implemented_models() -> list:
    """Model keys with a config in the model index (each gets a row on every table)."""
    return vocabulary.current().implemented_models()


def official_protocol(dataset: str) -> str | None:
    return vocabulary.current().datasets.get(dataset)


def metric_direction(metric: str) -> int | None:
    """+1: higher is better, -1: lower is better, None: no protocol defines the metric."""
    return vocabulary.current().metrics.get(metric)


def unknown_labels(model: str, dataset: str, protocol: str, metrics=()) -> list[str]:
    """Labels for names the registries and the model index do not know; such rows
    are shown, labelled, rather than dropped."""
    voc = vocabulary.current()
    labels = []
    if not voc.known_model(model):
        labels.append(f'model {model!r} is not in the model index (no metafile.yml names it)')
    if dataset not in voc.datasets:
        labels.append(f'dataset {dataset!r} is not registered')
    if protocol not in voc.protocols:
        labels.append(f'protocol {protocol!r} is not registered')
    unknown = [m for m in metrics if m not in voc.metrics and not m.startswith('raw_')]
    if unknown:
        labels.append(f'metric(s) {", ".join(unknown)} defined by no protocol')
    return labels


def is_refused_metric(key: str) -> bool:
    """True for keys that must never be shown (see docs/contracts.md, Metrics)."""
    return 'RANDOM' in str(key).upper()


def check_metric_key(key: str, where: str) -> None:
    if is_refused_metric(key):
        raise RefusedMetricError(
            f'{where}: metric key {key!r} is refused: a metric computed with a random '
            f'backbone is for tests only and must never reach the leaderboard. '
            f'Delete or fix this file.')


# ---------------------------------------------------------------------------
# reported.csv
# ---------------------------------------------------------------------------

def _read_csv_rows(path: Path, required: tuple, optional: tuple = ()) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise ReportedCSVError(f'{path}: file not found')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ReportedCSVError(f'{path}: empty file (expected header {",".join(required)})')
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required and c not in optional]
        if missing or unknown:
            raise ReportedCSVError(
                f'{path}, line 1: bad header; missing columns {missing}, unknown columns '
                f'{unknown}; expected {",".join(required + optional)}')
        rows = []
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.append((line, {'__error__': f'{len(cells)} fields, header has {len(header)}'}))
                continue
            rows.append((line, {h: c.strip() for h, c in zip(header, cells)}))
    return rows


def _raise_errors(path: Path, errors: list[str]) -> None:
    if errors:
        shown = '\n  '.join(errors[:50])
        more = f'\n  ... and {len(errors) - 50} more' if len(errors) > 50 else ''
        raise ReportedCSVError(f'{path}: {len(errors)} bad row(s):\n  {shown}{more}')


def load_reported(path) -> pd.DataFrame:
    """Load and validate ``reported.csv``.

    Every problem is reported with its line number (header = line 1), all at
    once, in a :class:`ReportedCSVError`. Returns a DataFrame with the CSV
    columns plus ``value_text`` (the printed text), ``value`` (float) and ``line``.
    """
    path = Path(path)
    rows = _read_csv_rows(path, REPORTED_COLUMNS[:-1], ('note',))
    errors, records, seen = [], [], {}
    for line, row in rows:
        where = f'line {line}'
        if '__error__' in row:
            errors.append(f'{where}: {row["__error__"]}')
            continue
        problems = []
        if not _KEY_RE.match(row['model']):
            problems.append(f'model {row["model"]!r} is not a lower_snake_case key')
        if not row['dataset']:
            problems.append('empty dataset')
        if is_refused_metric(row['metric']):
            problems.append(f'metric {row["metric"]!r} is refused (random-backbone metrics are '
                            f'for tests only)')
        elif not row['metric']:
            problems.append('empty metric')
        value = None
        if not _NUMBER_RE.match(row['value']):
            problems.append(f'value {row["value"]!r} is not a plain number')
        else:
            value = float(row['value'])
            if not math.isfinite(value):
                problems.append(f'value {row["value"]!r} is not finite')
        if not row['source']:
            problems.append('empty source')
        if not row['table']:
            problems.append('empty table')
        if not row['protocol']:
            problems.append('empty protocol')
        key = (row['model'], row['dataset'], row['metric'], row['source'], row['table'],
               row['protocol'])
        if key in seen:
            problems.append(f'duplicate of line {seen[key]} (same model, dataset, metric, '
                            f'source, table, protocol)')
        else:
            seen[key] = line
        if problems:
            errors.append(f'{where}: ' + '; '.join(problems))
            continue
        records.append(dict(row, value_text=row['value'], value=value, line=line,
                            note=row.get('note', '')))
    _raise_errors(path, errors)
    cols = list(REPORTED_COLUMNS) + ['value_text', 'line']
    return pd.DataFrame.from_records(records, columns=cols)


def load_efficiency(path) -> pd.DataFrame | None:
    """Load ``reported_efficiency.csv`` (None when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return None
    rows = _read_csv_rows(path, EFFICIENCY_COLUMNS, EFFICIENCY_OPTIONAL)
    errors, records = [], []
    numeric = ('params_M', 'macs_G', 'complexity_G', 'memory_MB', 'speed_FPS', 'sampling_ms')
    for line, row in rows:
        if '__error__' in row:
            errors.append(f'line {line}: {row["__error__"]}')
            continue
        problems = []
        if not _KEY_RE.match(row['model']):
            problems.append(f'model {row["model"]!r} is not a lower_snake_case key')
        for col in numeric:
            if row.get(col) and not _NUMBER_RE.match(row[col]):
                problems.append(f'{col} {row[col]!r} is not a plain number')
        if not any(row.get(c) for c in numeric):
            problems.append('no number in the row')
        if not row['source'] or not row['table']:
            problems.append('empty source or table')
        if problems:
            errors.append(f'line {line}: ' + '; '.join(problems))
            continue
        records.append({c: row.get(c, '') for c in EFFICIENCY_COLUMNS + EFFICIENCY_OPTIONAL})
    _raise_errors(path, errors)
    return pd.DataFrame.from_records(records,
                                     columns=list(EFFICIENCY_COLUMNS + EFFICIENCY_OPTIONAL))


#: Efficiency files (``efficiency/*.json``) written by ``tools/benchmark.py``.
MEASURED_REQUIRED = ('model', 'config', 'size', 'device', 'params', 'macs', 'latency_ms',
                     'input_shapes')
MEASURED_SCHEMA_VERSION = 1


def _validate_measured(data) -> str | None:
    if not isinstance(data, dict):
        return f'top level is {type(data).__name__}, expected an object'
    if data.get('kind') != 'efficiency':
        return "'kind' is not 'efficiency' (not written by tools/benchmark.py)"
    if data.get('schema_version') != MEASURED_SCHEMA_VERSION:
        return (f"schema_version {data.get('schema_version')!r} is not supported "
                f'(expected {MEASURED_SCHEMA_VERSION})')
    missing = [k for k in MEASURED_REQUIRED if k not in data]
    if missing:
        return f'missing keys {missing}'
    if not isinstance(data['model'], str) or not _KEY_RE.match(data['model']):
        return f"model {data['model']!r} is not a lower_snake_case key"
    for k in ('params', 'macs', 'latency_ms', 'size'):
        v = data[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v < 0:
            return f'{k!r} has bad value {v!r}'
    for k in ('peak_memory_MB',):
        v = data.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            return f'{k!r} has bad value {v!r}'
    s = data.get('sampling')
    if s is not None:
        if not isinstance(s, dict) or s.get('method') not in ('estimate', 'measured') \
                or not isinstance(s.get('latency_ms'), (int, float)):
            return "'sampling' needs method 'estimate' or 'measured' and a latency_ms"
    return None


def load_measured(efficiency_dir) -> tuple[list[dict], list[tuple[str, str]]]:
    """Load every ``*.json`` of ``efficiency_dir`` written by ``tools/benchmark.py``.

    Malformed files are skipped with a :class:`LeaderboardWarning` naming the
    file. Returns ``(records, skipped)``; each record gets ``result_file``.
    Sorted by model order, dataset order, then file name.
    """
    efficiency_dir = Path(efficiency_dir)
    records, skipped = [], []
    if not efficiency_dir.is_dir():
        return records, skipped
    for path in sorted(efficiency_dir.glob('*.json')):
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            reason = f'not valid JSON ({e})'
        else:
            reason = _validate_measured(data)
        if reason is not None:
            warnings.warn(f'leaderboard: skipping {path}: {reason}', LeaderboardWarning,
                          stacklevel=2)
            skipped.append((str(path), reason))
            continue
        records.append(dict(data, result_file=path.name))
    records.sort(key=lambda r: (model_rank(r['model']), dataset_rank(r.get('dataset') or ''),
                                r['result_file']))
    return records, skipped


# ---------------------------------------------------------------------------
# results/*.json
# ---------------------------------------------------------------------------

def _validate_run(data, name: str) -> str | None:
    """Reason why a parsed run file is unusable, or None. Refused keys raise."""
    if not isinstance(data, dict):
        return f'top level is {type(data).__name__}, expected an object'
    # the version crbench.results writes (metrics_ci95, provenance, incomplete and
    # per_image are optional additions to it)
    from crbench.results import SCHEMA_VERSION
    version = data.get('schema_version', SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        return f'schema_version {version!r} is not supported (expected {SCHEMA_VERSION})'
    missing = [k for k in RUN_REQUIRED if k not in data]
    if missing:
        return f'missing keys {missing}'
    for k in ('model', 'dataset', 'protocol'):
        if not isinstance(data[k], str) or not data[k]:
            return f'{k!r} must be a non-empty string'
    if not isinstance(data['synthetic'], bool):
        return "'synthetic' must be true or false"
    metrics = data['metrics']
    if not isinstance(metrics, dict) or not metrics:
        return "'metrics' must be a non-empty object"
    for key in metrics:
        check_metric_key(key, name)
    for key, value in metrics.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f'metric {key!r} has non-numeric value {value!r}'
    ci = data.get('metrics_ci95')
    if ci is not None:
        if not isinstance(ci, dict):
            return "'metrics_ci95' must be an object {metric: [low, high]}"
        for key, bounds in ci.items():
            if bounds is None:
                continue
            if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                    or not all(_is_number(b) for b in bounds)):
                return f'metrics_ci95[{key!r}] must be [low, high], got {bounds!r}'
    if data.get('provenance') is not None and not isinstance(data['provenance'], dict):
        return "'provenance' must be an object"
    if not isinstance(data.get('incomplete', False), bool):
        return "'incomplete' must be true or false"
    return None


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_variant(run: dict) -> bool:
    """The run's model or schedule differ from the repository config (``provenance.variant``)."""
    return bool((run.get('provenance') or {}).get('variant'))


def _parse_date(value) -> datetime:
    if isinstance(value, str):
        try:
            d = datetime.fromisoformat(value.replace('Z', '+00:00'))
            return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return datetime.min.replace(tzinfo=timezone.utc)


def load_runs(results_dir) -> tuple[list[dict], list[tuple[str, str]]]:
    """Load every ``*.json`` run file of ``results_dir`` (sorted by name).

    Malformed files are skipped with a :class:`LeaderboardWarning` naming the
    file; a refused metric key (``*RANDOM*``) raises :class:`RefusedMetricError`.
    Returns ``(runs, skipped)`` where ``skipped`` is a list of ``(file, reason)``.
    Each run dict gets ``result_file`` (the file name) and ``metrics`` with
    finite floats only (null / NaN / inf values are dropped).
    """
    results_dir = Path(results_dir)
    runs, skipped = [], []
    if not results_dir.exists():
        return runs, skipped
    if not results_dir.is_dir():
        raise LeaderboardError(f'{results_dir}: not a directory')
    for path in sorted(results_dir.glob('*.json')):
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            reason = f'not valid JSON ({e})'
        else:
            reason = _validate_run(data, str(path))
        if reason is not None:
            warnings.warn(f'leaderboard: skipping {path}: {reason}', LeaderboardWarning,
                          stacklevel=2)
            skipped.append((str(path), reason))
            continue
        run = dict(data)
        run['metrics'] = {k: float(v) for k, v in data['metrics'].items()
                          if v is not None and math.isfinite(float(v))}
        run['unavailable_metrics'] = sorted(set(run.get('unavailable_metrics') or [])
                                            | {k for k in data['metrics']
                                               if k not in run['metrics']})
        run['metrics_ci95'] = {k: (float(v[0]), float(v[1]))
                               for k, v in (data.get('metrics_ci95') or {}).items()
                               if v is not None and k in run['metrics']}
        run['variant'] = is_variant(data)
        run['incomplete'] = bool(data.get('incomplete', False))
        run['result_file'] = path.name
        run.setdefault('split', 'test')
        run.setdefault('run_id', path.stem)
        runs.append(run)
    return runs, skipped


def primary_metric(metrics: dict) -> str | None:
    """The metric that decides ``--select best``: the first of the metric order
    (:mod:`.vocabulary`: PSNR first) that the run has."""
    for m in vocabulary.current().metrics:
        if m in metrics:
            return m
    return None


def select_runs(runs: list[dict], select: str = 'latest') -> list[dict]:
    """One run per (model, dataset, split, protocol, synthetic, variant, incomplete) group.

    ``latest``: the most recent ``date`` (ties: larger ``run_id``, then file name).
    ``best``: the best value of the primary metric (:func:`primary_metric`), ties
    broken as for ``latest``. All metrics of a row come from the one selected run; runs
    are never mixed. The selected run gets ``n_runs`` and ``selection``.
    """
    if select not in ('latest', 'best'):
        raise ValueError(f"select must be 'latest' or 'best', got {select!r}")
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        key = (run['model'], run['dataset'], run.get('split', 'test'), run['protocol'],
               bool(run['synthetic']), bool(run.get('variant')), bool(run.get('incomplete')))
        groups.setdefault(key, []).append(run)

    def recency(r):
        return (_parse_date(r.get('date')), str(r.get('run_id', '')), r['result_file'])

    chosen = []
    for key in sorted(groups, key=lambda k: (dataset_rank(k[1]), model_rank(k[0]), k[2:])):
        members = groups[key]
        if select == 'latest':
            best = max(members, key=recency)
        else:
            metric = primary_metric(members[0]['metrics'])
            scored = [r for r in members if metric in r['metrics']] or members

            def score(r):
                v = r['metrics'].get(metric)
                return (v * metric_direction(metric)) if v is not None else -math.inf

            best = max(scored, key=lambda r: (score(r), recency(r)))
        chosen.append(dict(best, n_runs=len(members), selection=select))
    return chosen


# ---------------------------------------------------------------------------
# The tidy table: one row per number, with provenance.
# ---------------------------------------------------------------------------

TIDY_COLUMNS = (
    'dataset', 'model', 'model_display', 'kind', 'metric', 'higher_is_better', 'value',
    'protocol', 'source', 'table', 'reference_source', 'reference_table', 'synthetic',
    'split', 'n_runs', 'selection', 'run_id', 'config', 'checkpoint', 'checkpoint_sha256',
    'crbench_version', 'git_commit', 'device', 'date', 'n_images', 'result_file', 'note',
    'ci95_low', 'ci95_high', 'variant', 'incomplete', 'cfg_options')

KIND_ORDER = {'reported': 0, 'reproduced': 1, 'delta': 2}
CRBENCH_SOURCE = 'crbench (this repository)'


def _fmt_float(x: float) -> str:
    """Deterministic text of a computed float (10 significant digits)."""
    text = f'{x:.10g}'
    return '0' if text == '-0' else text


def _options_text(options) -> str:
    """``--cfg-options`` of a run as ``key=value`` pairs (sorted: deterministic)."""
    if not options:
        return ''
    if isinstance(options, dict):
        return ' '.join(f'{k}={json.dumps(v) if not isinstance(v, str) else v}'
                        for k, v in sorted(options.items()))
    return str(options)


def build_tidy(reported: pd.DataFrame, runs: list[dict]) -> pd.DataFrame:
    """Tidy table of reported numbers, selected runs and their deltas.

    ``runs`` must already be selected (:func:`select_runs`). ``delta`` rows are
    reproduced minus reported for the same model x dataset x protocol (test
    split, real runs only), one per reporting source and table.
    """
    rows = []
    for r in reported.itertuples(index=False):
        note = '; '.join(unknown_labels(r.model, r.dataset, r.protocol, [r.metric])
                         + ([r.note] if r.note else []))
        rows.append(dict(
            dataset=r.dataset, model=r.model, model_display=model_display(r.model),
            kind='reported', metric=r.metric, value=r.value_text, protocol=r.protocol,
            source=r.source, table=r.table, synthetic=False, note=note))
    for run in runs:
        prov = dict(
            dataset=run['dataset'], model=run['model'],
            model_display=model_display(run['model'], run.get('model_display')),
            protocol=run['protocol'], synthetic=bool(run['synthetic']),
            split=run.get('split', 'test'), n_runs=run.get('n_runs', 1),
            selection=run.get('selection', ''), run_id=str(run.get('run_id', '')),
            config=str(run.get('config', '')), checkpoint=str(run.get('checkpoint', '')),
            checkpoint_sha256=str(run.get('checkpoint_sha256', '')),
            crbench_version=str(run.get('crbench_version', '')),
            git_commit=str(run.get('git_commit', '')), device=str(run.get('device', '')),
            date=str(run.get('date', '')),
            n_images='' if run.get('n_images') is None else str(run.get('n_images')),
            result_file=run['result_file'], variant=bool(run.get('variant')),
            incomplete=bool(run.get('incomplete')),
            cfg_options=_options_text((run.get('provenance') or {}).get('cfg_options')))
        unavailable = run.get('unavailable_metrics') or []
        notes = unknown_labels(run['model'], run['dataset'], run['protocol'], run['metrics'])
        if unavailable:
            notes.append(f'unavailable: {", ".join(unavailable)}')
        note = '; '.join(notes)
        ci95 = run.get('metrics_ci95') or {}
        for metric in sorted(run['metrics'], key=metric_rank):
            low, high = ci95.get(metric, (None, None))
            rows.append(dict(prov, kind='reproduced', metric=metric,
                             value=_fmt_float(run['metrics'][metric]),
                             ci95_low='' if low is None else _fmt_float(low),
                             ci95_high='' if high is None else _fmt_float(high),
                             source=CRBENCH_SOURCE, table='', note=note))
        if run['synthetic'] or prov['split'] != 'test' or prov['variant'] or prov['incomplete']:
            continue  # a delta compares the paper's config on the whole test set only
        match = reported[(reported.model == run['model']) & (reported.dataset == run['dataset'])
                         & (reported.protocol == run['protocol'])]
        for r in match.itertuples(index=False):
            if r.metric not in run['metrics']:
                continue
            delta = run['metrics'][r.metric] - r.value
            rows.append(dict(prov, kind='delta', metric=r.metric, value=_fmt_float(delta),
                             source=CRBENCH_SOURCE, table='', reference_source=r.source,
                             reference_table=r.table,
                             note=f'reproduced - reported ({r.value_text})'))
    df = pd.DataFrame.from_records(rows, columns=list(TIDY_COLUMNS))
    df['higher_is_better'] = df['metric'].map(
        lambda m: {1: 'true', -1: 'false'}.get(metric_direction(m), ''))
    for flag in ('synthetic', 'variant', 'incomplete'):
        df[flag] = df[flag].map(
            lambda s: '' if s is None or (isinstance(s, float) and math.isnan(s))
            else 'true' if s else 'false')
    for col in TIDY_COLUMNS:
        if col != 'n_runs':
            df[col] = [('' if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
                       for v in df[col]]
    df['n_runs'] = df['n_runs'].map(lambda n: '' if pd.isna(n) else str(int(n)))
    order = df.apply(lambda r: (r['synthetic'] == 'true', dataset_rank(r['dataset']),
                                model_rank(r['model']), KIND_ORDER[r['kind']], r['protocol'],
                                r['split'], r['source'], r['table'], r['reference_source'],
                                r['reference_table'], metric_rank(r['metric'])),
                     axis=1) if len(df) else pd.Series([], dtype=object)
    df = df.assign(_o=order).sort_values('_o', kind='stable').drop(columns='_o')
    return df.reset_index(drop=True)
