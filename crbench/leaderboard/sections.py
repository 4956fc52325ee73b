"""The leaderboard as data: one :class:`Section` per dataset, efficiency rows.

Shared by the Markdown (:mod:`.markdown`) and HTML (:mod:`.html`) renderers;
everything here is deterministic (stable sort, no timestamps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from . import vocabulary
from .collect import (dataset_rank, implemented_models, known_datasets, metric_direction,
                      metric_rank, model_display, model_rank, official_protocol)

GAP = '—'
ARROW = {1: '↑', -1: '↓'}
#: Decimals of a computed (reproduced or delta) value; other metrics get 4.
METRIC_DECIMALS = {'PSNR': 3, 'SSIM': 4, 'LPIPS': 4, 'RMSE': 4, 'MAE': 4,
                   'SAM': 3, 'FID': 2, 'IS': 3}


def select_help(select: str) -> str:
    if select == 'latest':
        return 'the run with the most recent `date`'
    return ('the run with the best primary metric (PSNR if present, else the first of '
            + ', '.join(vocabulary.current().metrics) + ')')


@dataclass
class Cell:
    text: str = GAP
    value: float | None = None
    bold: bool = False


@dataclass
class Row:
    model: str
    display: str
    kind: str                      # reported | reproduced | delta | gap
    label: str
    cells: dict = field(default_factory=dict)
    protocol: str = ''
    source: str = ''
    runs: str = ''
    notes: str = ''
    rankable: bool = False         # takes part in best-per-column


@dataclass
class Section:
    dataset: str
    metrics: list
    rows: list
    note: str = ''                 # e.g. the dataset is not registered


def metric_header(metric: str) -> str:
    arrow = ARROW.get(metric_direction(metric))
    return f'{metric} {arrow}' if arrow else metric


def _fmt(metric: str, value: float, signed: bool = False) -> str:
    dec = METRIC_DECIMALS.get(metric, 4)
    return f'{value:+.{dec}f}' if signed else f'{value:.{dec}f}'


def _shown_metric(metric: str) -> bool:
    return not metric.startswith('raw_')


def _run_source(first: dict) -> str:
    parts = [f'crbench run {first["run_id"]}']
    if first['config']:
        parts.append(first['config'])
    return ' · '.join(parts)


def _run_label(first: dict, synthetic: bool) -> str:
    label = 'synthetic run' if synthetic else 'reproduced'
    flags = [f for f in ('variant', 'incomplete') if first.get(f) == 'true']
    return f'{label} ({", ".join(flags)})' if flags else label


def _run_cell(r: dict) -> Cell:
    """The reproduced mean, with its 95 % bootstrap interval when the run has one."""
    value = float(r['value'])
    text = _fmt(r['metric'], value)
    if r.get('ci95_low') not in (None, '') and r.get('ci95_high') not in (None, ''):
        low, high = float(r['ci95_low']), float(r['ci95_high'])
        text += f' [{_fmt(r["metric"], low)}, {_fmt(r["metric"], high)}]'
    return Cell(text, value)


def _run_notes(first: dict) -> str:
    parts = []
    if first.get('variant') == 'true':
        options = first.get('cfg_options') or ''
        parts.append('variant, not the paper config' + (f': {options}' if options else ''))
    if first.get('incomplete') == 'true':
        parts.append('incomplete test set (files missing or damaged, run with '
                     '--allow-incomplete)')
    if first['split'] and first['split'] != 'test':
        parts.append(f'split {first["split"]}')
    if first['n_images']:
        parts.append(f'{first["n_images"]} images')
    if first['device']:
        parts.append(first['device'])
    if first['checkpoint_sha256']:
        parts.append(f'ckpt sha256 {first["checkpoint_sha256"][:12]}')
    if first['git_commit']:
        parts.append(f'commit {first["git_commit"][:10]}')
    if first['note']:
        parts.append(first['note'])
    return '; '.join(parts)


def _group(records: list[dict], keys: tuple) -> dict:
    """Group records by ``keys``, in order of first appearance."""
    out: dict = {}
    for r in records:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def build_sections(tidy: pd.DataFrame, synthetic: bool = False) -> list[Section]:
    """Group the tidy table into one :class:`Section` per dataset.

    With ``synthetic=False`` only real rows are used and every registered
    dataset gets a section, with a gap row for each model of the model index
    that has a config but no run (unregistered datasets: no gap rows). With
    ``synthetic=True`` only synthetic runs are used. 95 % intervals follow reproduced means as ``mean [low, high]``;
    variant and incomplete runs are labelled and never bold.
    """
    flag = 'true' if synthetic else 'false'
    records = [r for r in tidy.to_dict('records') if r['synthetic'] == flag]
    by_dataset = _group(records, ('dataset',))
    datasets = [k[0] for k in by_dataset]
    if not synthetic:
        datasets = list(dict.fromkeys(known_datasets() + datasets))
    implemented = implemented_models()
    sections = []
    for dataset in sorted(datasets, key=dataset_rank):
        d = by_dataset.get((dataset,), [])
        metrics = sorted({r['metric'] for r in d if _shown_metric(r['metric'])}, key=metric_rank)
        by_model = _group(d, ('model',))
        models = {k[0] for k in by_model}
        if not synthetic and official_protocol(dataset):
            models |= set(implemented)  # gaps only where a registered dataset has a table
        rows = []
        for model in sorted(models, key=model_rank):
            m = by_model.get((model,), [])
            disp = m[0]['model_display'] if m else model_display(model)
            rep = [r for r in m if r['kind'] == 'reported']
            for (source, table, protocol), g in _group(
                    rep, ('source', 'table', 'protocol')).items():
                rows.append(Row(
                    model, disp, 'reported', 'reported',
                    {r['metric']: Cell(r['value'], float(r['value'])) for r in g},
                    protocol, f'{source}, {table}', '',
                    '; '.join(dict.fromkeys(r['note'] for r in g if r['note'])),
                    rankable=True))
            runs = [r for r in m if r['kind'] == 'reproduced']
            for (protocol, split, result_file), g in _group(
                    runs, ('protocol', 'split', 'result_file')).items():
                first = g[0]
                plain = first.get('variant') != 'true' and first.get('incomplete') != 'true'
                rows.append(Row(
                    model, disp, 'reproduced', _run_label(first, synthetic),
                    {r['metric']: _run_cell(r) for r in g if _shown_metric(r['metric'])},
                    protocol, _run_source(first), f'{first["n_runs"]} ({first["selection"]})',
                    _run_notes(first), rankable=(not synthetic and split == 'test' and plain)))
                deltas = [r for r in m if r['kind'] == 'delta'
                          and r['result_file'] == result_file]
                for (rsrc, rtab), dg in _group(
                        deltas, ('reference_source', 'reference_table')).items():
                    rows.append(Row(
                        model, disp, 'delta', f'Δ vs {rtab}',
                        {r['metric']: Cell(_fmt(r['metric'], float(r['value']), signed=True),
                                           float(r['value'])) for r in dg},
                        protocol, f'reproduced − reported ({rsrc}, {rtab})'))
            if not synthetic and model in implemented and not runs:
                rows.append(Row(model, disp, 'gap', 'reproduced', {}, '', '', '0',
                                'not reproduced yet' if rep
                                else 'nothing reported or reproduced'))
        if not synthetic:
            _mark_best(rows, metrics, official_protocol(dataset))
        note = '' if official_protocol(dataset) else (
            f'`{dataset}` is not a registered dataset (no official protocol known): every '
            'row is compared, whatever its protocol.')
        sections.append(Section(dataset, metrics, rows, note))
    return sections


def _mark_best(rows: list[Row], metrics: list[str], protocol: str | None) -> None:
    """Bold the best value per column among rankable rows of the dataset's protocol."""
    for metric in metrics:
        sign = metric_direction(metric)
        if sign is None:
            continue
        cands = [r.cells[metric] for r in rows
                 if r.rankable and metric in r.cells and r.cells[metric].value is not None
                 and (protocol is None or r.protocol == protocol)]
        if not cands:
            continue
        best = max(c.value * sign for c in cands)
        for c in cands:
            if math.isclose(c.value * sign, best, rel_tol=1e-12, abs_tol=0.0):
                c.bold = True


EFFICIENCY_HEAD = ('Model', 'Row', 'Dataset', 'Input', 'Params (M)', 'MACs (G)',
                   'MACs, paper convention (G)', 'Complexity (G)', 'Memory (MB)',
                   'Speed (FPS)', 'Latency (ms)', 'Sampling (ms/img)', 'Source', 'Notes')
EFFICIENCY_NUMERIC = ('Params (M)', 'MACs (G)', 'MACs, paper convention (G)', 'Complexity (G)',
                      'Memory (MB)', 'Speed (FPS)', 'Latency (ms)', 'Sampling (ms/img)')
SHARED_MARK = ' †'
SHARED_FOOTNOTE = (
    '† thop over-count of a shared module: MemoryNet (MPRNet) registers its single PReLU in '
    'each of its 56 CABs, so thop hooks it 56 times and adds it once per parent again: '
    '56² × 0.13 G = 422 G of PReLU ops that do not exist (at 256×256). That is why the papers '
    'print 548.65 G MACs for MemoryNet (EMRDM Table 6(b)) while its convolutions take 141.10 G; '
    '*Notes* gives the paper-convention count with the PReLU counted once.')
EFFICIENCY_INTRO = (
    '`reported`: as printed in the papers (*Source*). `measured`: `tools/benchmark.py` on the '
    'machine named in *Notes*, batch 1 with the dataset\'s bands at the *Input* size, read from '
    '`{efficiency_name}`. MACs = FLOP / 2 counted by `torch.utils.flop_counter.FlopCounterMode` '
    '(convolutions, matrix products and attention; elementwise ops, normalisation and pooling '
    'are not counted). *MACs, paper convention*: the same call counted by the rules of the '
    '`thop` package\'s `profile`, which the papers\' MAC columns use (reimplemented in '
    '`crbench/analysis/flops.py`, `count_macs_thop_convention`): no attention or other '
    'functional ops, transposed convolutions counted stride² times, and a module shared by k '
    'parents counted k² times. For diffusion models Params, MACs and Latency are one network '
    'evaluation (DE: CNP + WA, reference network excluded, as DE Table X and EMRDM Table 6 '
    'count it) and *Sampling* is per image; `est.` marks an estimate (reference + NFE × step '
    'latency), not a full sampling run. Latency is the median wall-clock time. Memory: '
    'reported = as printed (DE Table X does not define it); measured = peak extra memory of '
    'one inference call (CPU: resident-set increase; CUDA: max allocated), not comparable with '
    'the papers\' GPU numbers. Latency and memory depend on the hardware and its load.')


def _sorted_efficiency(eff: pd.DataFrame) -> pd.DataFrame:
    """By source and table, keeping the file's (the paper's) order inside a table."""
    order = [(r.source, r.table) for r in eff.itertuples()]
    return eff.assign(_o=order).sort_values('_o', kind='stable').drop(columns='_o')


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _shape(shape) -> str:
    return '×'.join(str(int(d)) for d in shape)


def _measured_row(m: dict) -> dict:
    shapes = m.get('input_shapes') or {}
    inp = ' + '.join((f'{k} ' if k != 'cloudy' else '') + _shape(v) for k, v in shapes.items())
    s = m.get('sampling') or {}
    sampling = s.get('latency_ms')
    notes = [f"{m.get('device_name') or m['device']}, {m.get('threads', '?')} thread(s), "
             f"torch {m.get('torch_version', '?')}, median of {m.get('repeats', '?')}"]
    by_op = m.get('macs_by_op_G') or {}
    conv = by_op.get('convolution')
    if conv is not None and m['macs'] and conv * 1e9 < 0.99 * m['macs']:
        notes.append(f'convolutions only: {conv:.2f} G MACs (what thop / ptflops count; the '
                     'rest is attention and linear layers)')
    comps = m.get('components') or {}
    ref = comps.get('reference')
    if comps:
        notes.append('one evaluation = ' + ' + '.join(
            {'cnp': 'CNP', 'weight_net': 'WA'}.get(k, k) for k in comps if k != 'reference'))
    if ref:
        notes.append(f"reference {m.get('reference_type') or ''} (once per image): "
                     f"{ref['params'] / 1e6:.3f} M params, {ref['macs'] / 1e9:.2f} G MACs, "
                     f"{ref['latency_ms']:.1f} ms".replace('  ', ' '))
        if not m.get('reference_checkpoint_exists', True):
            notes.append('reference checkpoint missing: random weights (same cost)')
    if s:
        desc = f"sampling: {s.get('sampler') or 'restore()'}"
        if s.get('nfe') is not None:
            desc += f", NFE {s['nfe']}"
        if s.get('macs') is not None:
            desc += f", {s['macs'] / 1e9:.2f} G MACs per image"
        desc += ' (estimate)' if s['method'] == 'estimate' else ' (measured)'
        notes.append(desc)
        full = s.get('measured')
        if isinstance(full, dict) and full.get('latency_ms') is not None:
            notes.append(f"full sampling measured: {full['latency_ms']:.1f} ms/img")
    method = str(m.get('memory_method') or '')
    if method:
        notes.append('memory: ' + ('CUDA max allocated' if method.startswith('cuda') else
                                   'CPU resident-set increase' if 'VmHWM' in method else
                                   'CPU ru_maxrss growth (lower bound)'))
    mem = m.get('peak_memory_MB')
    paper = m.get('macs_G_paper_convention')
    once = m.get('macs_G_paper_convention_shared_once')
    overcounted = paper is not None and once is not None and paper > 1.01 * once
    if overcounted:
        notes.append(f'paper convention with each shared module counted once: {once:.2f} G')
    cells = {
        'Params (M)': f"{m['params'] / 1e6:.3f}", 'MACs (G)': f"{m['macs'] / 1e9:.2f}",
        'MACs, paper convention (G)': '' if paper is None else f'{paper:.2f}',
        'Complexity (G)': '', 'Memory (MB)': '' if mem is None else f'{mem:.0f}',
        'Speed (FPS)': '', 'Latency (ms)': f"{m['latency_ms']:.1f}",
        'Sampling (ms/img)': '' if sampling is None else f'{sampling:.1f}'}
    values = {k: _num(v) for k, v in cells.items()}
    if overcounted:
        cells['MACs, paper convention (G)'] += SHARED_MARK
    if sampling is not None and s.get('method') == 'estimate':
        cells['Sampling (ms/img)'] += ' (est.)'
    cells.update({'Model': model_display(m['model'], m.get('model_display')), 'Row': 'measured',
                  'Dataset': m.get('dataset') or GAP, 'Input': inp or GAP,
                  'Source': f"crbench tools/benchmark.py · {m['config']}",
                  'Notes': '; '.join(notes)})
    return dict(model=m['model'], cells=cells, values=values)


def efficiency_rows(eff: pd.DataFrame | None, measured: list | None) -> list[dict]:
    """Reported and measured efficiency rows, grouped by model (reported first).

    Each row: ``{'model', 'cells': {column: text}, 'values': {column: float|None}}``.
    """
    rows = []
    if eff is not None:
        for r in _sorted_efficiency(eff).itertuples():
            cells = {'Model': model_display(r.model), 'Row': 'reported',
                     'Dataset': r.dataset or GAP, 'Input': GAP, 'Params (M)': r.params_M,
                     'MACs (G)': r.macs_G, 'MACs, paper convention (G)': '',
                     'Complexity (G)': r.complexity_G,
                     'Memory (MB)': r.memory_MB, 'Speed (FPS)': r.speed_FPS,
                     'Latency (ms)': '', 'Sampling (ms/img)': r.sampling_ms,
                     'Source': f'{r.source}, {r.table}', 'Notes': r.note}
            rows.append(dict(model=r.model, cells=cells,
                             values={k: _num(cells[k]) for k in EFFICIENCY_NUMERIC}))
    rows += [_measured_row(m) for m in (measured or [])]
    order = {id(r): i for i, r in enumerate(rows)}
    rows.sort(key=lambda r: (model_rank(r['model']), r['cells']['Row'] != 'reported',
                             order[id(r)]))
    for r in rows:
        for k in EFFICIENCY_HEAD:
            r['cells'][k] = r['cells'].get(k) or GAP
    return rows


def _has_shared_mark(rows: list[dict]) -> bool:
    return any(str(r['cells'].get('MACs, paper convention (G)', '')).endswith(SHARED_MARK)
               for r in rows)
