"""Render the leaderboard: markdown (one table per dataset), tidy CSV and a static HTML page.

All outputs are deterministic (no timestamps, stable sort), so regenerating
with the same inputs is byte-identical.
"""
from __future__ import annotations

import html as _html
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .plots import slug
from .collect import (CRBENCH_MODELS, DATASETS, METRIC_DECIMALS, METRIC_DIRECTION,
                      OFFICIAL_PROTOCOL, dataset_rank, load_efficiency, load_measured,
                      load_reported, load_runs, metric_rank, model_display, model_rank,
                      select_runs, build_tidy)

GAP = '—'
ARROW = {1: '↑', -1: '↓'}
SELECT_HELP = {
    'latest': 'the run with the most recent `date`',
    'best': 'the run with the best primary metric (PSNR if present, else the first of '
            + ', '.join(METRIC_DIRECTION) + ')',
}


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


def metric_header(metric: str) -> str:
    arrow = ARROW.get(METRIC_DIRECTION.get(metric))
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


def _run_notes(first: dict) -> str:
    parts = []
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

    With ``synthetic=False`` only real rows are used and every dataset of
    :data:`DATASETS` gets a section, with a gap row for each crbench model that
    has nothing. With ``synthetic=True`` only synthetic runs are used.
    """
    flag = 'true' if synthetic else 'false'
    records = [r for r in tidy.to_dict('records') if r['synthetic'] == flag]
    by_dataset = _group(records, ('dataset',))
    datasets = [k[0] for k in by_dataset]
    if not synthetic:
        datasets = list(dict.fromkeys(list(DATASETS) + datasets))
    sections = []
    for dataset in sorted(datasets, key=dataset_rank):
        d = by_dataset.get((dataset,), [])
        metrics = sorted({r['metric'] for r in d if _shown_metric(r['metric'])}, key=metric_rank)
        by_model = _group(d, ('model',))
        models = {k[0] for k in by_model}
        if not synthetic:
            models |= set(CRBENCH_MODELS)
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
                rows.append(Row(
                    model, disp, 'reproduced', 'synthetic run' if synthetic else 'reproduced',
                    {r['metric']: Cell(_fmt(r['metric'], float(r['value'])), float(r['value']))
                     for r in g if _shown_metric(r['metric'])},
                    protocol, _run_source(first), f'{first["n_runs"]} ({first["selection"]})',
                    _run_notes(first), rankable=(not synthetic and split == 'test')))
                deltas = [r for r in m if r['kind'] == 'delta'
                          and r['result_file'] == result_file]
                for (rsrc, rtab), dg in _group(
                        deltas, ('reference_source', 'reference_table')).items():
                    rows.append(Row(
                        model, disp, 'delta', f'Δ vs {rtab}',
                        {r['metric']: Cell(_fmt(r['metric'], float(r['value']), signed=True),
                                           float(r['value'])) for r in dg},
                        protocol, f'reproduced − reported ({rsrc}, {rtab})'))
            if not synthetic and model in CRBENCH_MODELS and not runs:
                rows.append(Row(model, disp, 'gap', 'reproduced', {}, '', '', '0',
                                'not reproduced yet' if rep
                                else 'nothing reported or reproduced'))
        if not synthetic:
            _mark_best(rows, metrics, OFFICIAL_PROTOCOL.get(dataset))
        sections.append(Section(dataset, metrics, rows))
    return sections


def _mark_best(rows: list[Row], metrics: list[str], protocol: str | None) -> None:
    """Bold the best value per column among rankable rows of the dataset's protocol."""
    for metric in metrics:
        sign = METRIC_DIRECTION.get(metric)
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


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------

def _md(text: str) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _md_table(section: Section, synthetic: bool = False) -> list[str]:
    metrics = section.metrics
    head = ['Model', 'Row'] + [metric_header(m) for m in metrics] + \
        ['Protocol', 'Source', 'Runs', 'Notes']
    align = ['---', '---'] + ['---:'] * len(metrics) + ['---', '---', '---:', '---']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '|'.join(align) + '|']
    for r in section.rows:
        vals = []
        for m in metrics:
            c = r.cells.get(m)
            if c is None:
                vals.append(GAP)
            else:
                vals.append(f'**{c.text}**' if c.bold else c.text)
        cells = [r.display, r.label] + vals + [r.protocol or GAP, r.source or GAP, r.runs,
                                               r.notes]
        lines.append('| ' + ' | '.join(_md(c) for c in cells) + ' |')
    return lines


def _header(select: str, show_synthetic: bool, n_synthetic: int, reported_name: str,
            results_name: str) -> list[str]:
    lines = [
        '# crbench leaderboard',
        '',
        '<!-- Generated by tools/leaderboard.py. Do not edit by hand: edit '
        f'{reported_name} or add runs to {results_name}, then regenerate. -->',
        '',
        '**Provenance.** Every number on this page comes from one of two files, and its row '
        'says which:',
        '',
        f'- `reported`: printed in a paper and transcribed into `{reported_name}` '
        '(one row per number, with the paper and table in *Source* and the metric protocol '
        'the paper used in *Protocol*, see `docs/datasets.md` 2.8 / 3.7 / 4.8 / 5.7). When '
        'two papers print the same model on the same dataset, both rows are shown.',
        f'- `reproduced`: a crbench test run (`tools/test.py`), read from `{results_name}`. '
        f'*Runs* counts the runs of the same model × dataset × split × protocol; one run is '
        f'shown (`--select {select}`: {SELECT_HELP[select]}). All metrics of a row come '
        'from that one run.',
        '- `Δ vs <table>`: reproduced minus reported, for the same model × dataset × '
        'protocol, one row per reporting table.',
        f'- ↑ / ↓: higher / lower is better. **Bold**: best of the column among reported and '
        f'reproduced rows that use the dataset\'s official protocol. `{GAP}`: no number.',
        '- Metrics logged for the cloudy input (`raw_*`) are only in `leaderboard.csv`.',
        '',
        '**Synthetic policy.** Runs on procedurally generated data (`synthetic: true`, e.g. '
        'from `make demo`) only prove that the pipeline works; their numbers say nothing '
        'about any method. They never appear in the dataset tables, never get a Δ or bold, '
        'and are listed only with `--show-synthetic`, in the last section.',
    ]
    if n_synthetic and not show_synthetic:
        lines += ['', f'{n_synthetic} synthetic run(s) hidden; regenerate with '
                      '`--show-synthetic` to list them.']
    lines += ['', 'Full tidy data (one row per number, with provenance columns): '
                  '[leaderboard.csv](leaderboard.csv).', '']
    return lines


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
    '`crbench/leaderboard/benchmark.py`, `count_macs_thop_convention`): no attention or other '
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
    if paper is not None and once is not None and paper > 1.01 * once:
        notes.append(f'paper convention with each shared module counted once: {once:.2f} G')
    cells = {
        'Params (M)': f"{m['params'] / 1e6:.3f}", 'MACs (G)': f"{m['macs'] / 1e9:.2f}",
        'MACs, paper convention (G)': '' if paper is None else f'{paper:.2f}',
        'Complexity (G)': '', 'Memory (MB)': '' if mem is None else f'{mem:.0f}',
        'Speed (FPS)': '', 'Latency (ms)': f"{m['latency_ms']:.1f}",
        'Sampling (ms/img)': '' if sampling is None else f'{sampling:.1f}'}
    values = {k: _num(v) for k, v in cells.items()}
    if paper is not None and once is not None and paper > 1.01 * once:
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


def _efficiency_md(rows: list[dict], efficiency_name: str) -> list[str]:
    align = ['---:' if h in EFFICIENCY_NUMERIC else '---' for h in EFFICIENCY_HEAD]
    lines = ['## Efficiency', '', EFFICIENCY_INTRO.format(efficiency_name=efficiency_name), '',
             '| ' + ' | '.join(EFFICIENCY_HEAD) + ' |', '|' + '|'.join(align) + '|']
    for r in rows:
        lines.append('| ' + ' | '.join(_md(r['cells'][h]) for h in EFFICIENCY_HEAD) + ' |')
    if _has_shared_mark(rows):
        lines += ['', SHARED_FOOTNOTE]
    return lines + ['']


def _plots_md(plots: list) -> list[str]:
    lines = ['## Plots', '',
             'Generated by `tools/leaderboard.py` (official protocols, real runs only; when '
             'papers disagree the first source in the tables\' order is plotted).', '']
    for title, name in plots:
        lines += [f'### {title}', '', f'![{title}](plots/{name})', '']
    return lines


def render_markdown(tidy: pd.DataFrame, *, select: str = 'latest', show_synthetic: bool = False,
                    n_synthetic: int = 0, efficiency: pd.DataFrame | None = None,
                    measured: list | None = None, plots: list | None = None,
                    reported_name: str = 'reported.csv',
                    results_name: str = 'results/', efficiency_name: str = 'efficiency/') -> str:
    """The README. ``measured``: records of :func:`load_measured`; ``plots``:
    ``[(title, file name)]`` of PNGs in ``plots/`` next to the README."""
    lines = _header(select, show_synthetic, n_synthetic, reported_name, results_name)
    if plots:
        lines[-1:-1] = ['', 'Plots (metric bars per dataset, PSNR against MACs): '
                        '[below](#plots).']
    for sec in build_sections(tidy, synthetic=False):
        lines += [f'## {sec.dataset}', '', *_md_table(sec), '']
    eff_rows = efficiency_rows(efficiency, measured)
    if eff_rows:
        lines += _efficiency_md(eff_rows, efficiency_name)
    if plots:
        lines += _plots_md(plots)
    if show_synthetic:
        lines += ['## Synthetic runs — pipeline checks only, NOT results', '',
                  '> These runs used procedurally generated data. Their numbers are not '
                  'comparable to any reported number or to each other across datasets.', '']
        secs = build_sections(tidy, synthetic=True)
        if not secs:
            lines += ['No synthetic runs.', '']
        for sec in secs:
            lines += [f'### {sec.dataset} (synthetic)', '', *_md_table(sec, True), '']
    return '\n'.join(lines).rstrip('\n') + '\n'


# ---------------------------------------------------------------------------
# HTML (self-contained: inline CSS and JS, no network fetches)
# ---------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
.tabs button{border:1px solid #999;background:#eee;padding:.4em .8em;margin:0 .2em .4em 0;cursor:pointer}
.tabs button.active{background:#333;color:#fff}
.tabs button.synthetic{border-color:#b00;color:#b00}
.tabs button.synthetic.active{background:#b00;color:#fff}
section.panel{display:none}
section.panel.active{display:block}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em}
th{background:#f3f3f3;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.reproduced td{background:#eef6ff}
tr.delta td{background:#fafafa;color:#555;font-style:italic}
tr.gap td{color:#999}
.warn{border:2px solid #b00;padding:.5em;color:#600;background:#fff4f4}
.note{color:#555;font-size:.9em}
tr.measured td{background:#eef6ff}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ddd}
"""

_JS = """
function showTab(id){
  document.querySelectorAll('section.panel').forEach(function(s){s.classList.toggle('active', s.id===id);});
  document.querySelectorAll('.tabs button').forEach(function(b){b.classList.toggle('active', b.dataset.target===id);});
}
function sortTable(th){
  var table=th.closest('table'), body=table.tBodies[0], idx=Array.prototype.indexOf.call(th.parentNode.children, th);
  var asc=th.dataset.dir!=='asc'; th.parentNode.querySelectorAll('th').forEach(function(h){delete h.dataset.dir;});
  th.dataset.dir=asc?'asc':'desc';
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=a.cells[idx].dataset.v, y=b.cells[idx].dataset.v;
    var xn=(x===undefined||x===''), yn=(y===undefined||y==='');
    if(xn||yn){ if(xn&&yn){x=a.cells[idx].textContent; y=b.cells[idx].textContent; return asc?x.localeCompare(y):y.localeCompare(x);} return xn?1:-1; }
    return asc?(parseFloat(x)-parseFloat(y)):(parseFloat(y)-parseFloat(x));
  });
  rows.forEach(function(r){body.appendChild(r);});
}
document.addEventListener('DOMContentLoaded', function(){
  document.querySelectorAll('th').forEach(function(th){th.addEventListener('click', function(){sortTable(th);});});
  document.querySelectorAll('.tabs button').forEach(function(b){b.addEventListener('click', function(){showTab(b.dataset.target);});});
  var first=document.querySelector('.tabs button'); if(first){showTab(first.dataset.target);}
});
"""


def _e(text) -> str:
    return _html.escape(str(text), quote=True)


def _html_table(sec: Section) -> list[str]:
    head = ['Model', 'Row'] + [metric_header(m) for m in sec.metrics] + \
        ['Protocol', 'Source (provenance)', 'Runs', 'Notes']
    out = ['<table>', '<thead><tr>' + ''.join(f'<th>{_e(h)}</th>' for h in head) + '</tr></thead>',
           '<tbody>']
    for r in sec.rows:
        tds = [f'<td>{_e(r.display)}</td>', f'<td>{_e(r.label)}</td>']
        for m in sec.metrics:
            c = r.cells.get(m)
            if c is None:
                tds.append(f'<td class="num" data-v="">{GAP}</td>')
            else:
                text = f'<b>{_e(c.text)}</b>' if c.bold else _e(c.text)
                v = '' if c.value is None else repr(float(c.value))
                tds.append(f'<td class="num" data-v="{v}">{text}</td>')
        tds += [f'<td>{_e(r.protocol or GAP)}</td>', f'<td>{_e(r.source or GAP)}</td>',
                f'<td class="num">{_e(r.runs)}</td>', f'<td>{_e(r.notes)}</td>']
        out.append(f'<tr class="{_e(r.kind)}">' + ''.join(tds) + '</tr>')
    return out + ['</tbody>', '</table>']


def render_html(tidy: pd.DataFrame, *, select: str = 'latest', show_synthetic: bool = False,
                n_synthetic: int = 0, efficiency: pd.DataFrame | None = None,
                measured: list | None = None, plots: list | None = None,
                efficiency_name: str = 'efficiency/') -> str:
    panels, buttons = [], []
    for sec in build_sections(tidy, synthetic=False):
        pid = 'ds-' + slug(sec.dataset)
        buttons.append(f'<button data-target="{pid}">{_e(sec.dataset)}</button>')
        panels += [f'<section class="panel" id="{pid}">', f'<h2>{_e(sec.dataset)}</h2>',
                   *_html_table(sec), '</section>']
    eff_rows = efficiency_rows(efficiency, measured)
    if eff_rows:
        buttons.append('<button data-target="efficiency">Efficiency</button>')
        intro = EFFICIENCY_INTRO.format(efficiency_name=efficiency_name).replace('`', '')
        panels += ['<section class="panel" id="efficiency">', '<h2>Efficiency</h2>',
                   f'<p class="note">{_e(intro)}</p>',
                   '<table>', '<thead><tr>' + ''.join(f'<th>{_e(h)}</th>' for h in EFFICIENCY_HEAD)
                   + '</tr></thead>', '<tbody>']
        for r in eff_rows:
            tds = []
            for h in EFFICIENCY_HEAD:
                text = r['cells'][h]
                if h in EFFICIENCY_NUMERIC:
                    v = r['values'].get(h)
                    tds.append(f'<td class="num" data-v="{"" if v is None else repr(v)}">'
                               f'{_e(text)}</td>')
                else:
                    tds.append(f'<td>{_e(text)}</td>')
            panels.append(f'<tr class="{_e(r["cells"]["Row"])}">' + ''.join(tds) + '</tr>')
        panels += ['</tbody>', '</table>']
        if _has_shared_mark(eff_rows):
            panels.append(f'<p class="note">{_e(SHARED_FOOTNOTE)}</p>')
        panels.append('</section>')
    if plots:
        buttons.append('<button data-target="plots">Plots</button>')
        panels += ['<section class="panel" id="plots">', '<h2>Plots</h2>',
                   '<p class="note">Official protocols, real runs only; when papers disagree '
                   'the first source in the tables\' order is plotted.</p>']
        for title, name in plots:
            panels.append(f'<figure><img src="plots/{_e(name)}" alt="{_e(title)}">'
                          f'<figcaption>{_e(title)}</figcaption></figure>')
        panels.append('</section>')
    if show_synthetic:
        secs = build_sections(tidy, synthetic=True)
        buttons.append('<button class="synthetic" data-target="synthetic">'
                       'Synthetic runs (NOT results)</button>')
        panels += ['<section class="panel" id="synthetic">',
                   '<h2>Synthetic runs — pipeline checks only, NOT results</h2>',
                   '<p class="warn">These runs used procedurally generated data. Their numbers '
                   'are not comparable to any reported number.</p>']
        if not secs:
            panels.append('<p>No synthetic runs.</p>')
        for sec in secs:
            panels += [f'<h3>{_e(sec.dataset)} (synthetic)</h3>', *_html_table(sec)]
        panels.append('</section>')
    hidden = (f'<p class="note">{n_synthetic} synthetic run(s) hidden; regenerate with '
              f'<code>--show-synthetic</code> to list them.</p>'
              if n_synthetic and not show_synthetic else '')
    doc = [
        '<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
        '<title>crbench leaderboard</title>', f'<style>{_CSS}</style>', '</head>', '<body>',
        '<h1>crbench leaderboard</h1>',
        '<p class="note">Generated by tools/leaderboard.py from reported.csv (numbers '
        'transcribed from the papers) and results/*.json (crbench test runs). Every row names '
        'its source. Δ rows: reproduced − reported for the same model × dataset × protocol. '
        f'Reproduced rows show one run per group (--select {_e(select)}). ↑/↓: higher/lower '
        'is better; bold: best in column among rows with the dataset\'s official protocol. '
        'Click a column header to sort.</p>',
        '<p class="note">Synthetic policy: runs on synthetic data never appear in the '
        'dataset tabs; they are listed only in their own tab when generated with '
        '--show-synthetic.</p>', hidden,
        '<div class="tabs">' + ''.join(buttons) + '</div>', *panels,
        f'<script>{_JS}</script>', '</body>', '</html>']
    return '\n'.join(line for line in doc if line) + '\n'


# ---------------------------------------------------------------------------
# CSV and the whole job
# ---------------------------------------------------------------------------

def render_csv(tidy: pd.DataFrame) -> str:
    return tidy.to_csv(index=False, lineterminator='\n')


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text)


def write_leaderboard(results_dir='leaderboard/results', reported='leaderboard/reported.csv',
                      out_dir='leaderboard', *, select: str = 'latest',
                      show_synthetic: bool = False, html: bool = True,
                      efficiency='auto', efficiency_dir='auto', plots: bool = False) -> dict:
    """Regenerate ``README.md``, ``leaderboard.csv`` (and ``index.html``) in ``out_dir``.

    ``efficiency``: path of ``reported_efficiency.csv``; ``'auto'`` looks next to
    ``reported``; ``None`` leaves the reported efficiency rows out.
    ``efficiency_dir``: folder of ``tools/benchmark.py`` JSON files; ``'auto'``
    is ``efficiency/`` next to ``reported``; ``None`` leaves measured rows out.
    ``plots``: also write PNG figures into ``out_dir/plots`` and link them
    (needs matplotlib; off by default because it is the slow part).
    Returns a summary dict (tidy frame, selected runs, skipped files, written paths).
    """
    reported = Path(reported)
    out_dir = Path(out_dir)
    rep = load_reported(reported)
    if efficiency == 'auto':
        efficiency = reported.with_name('reported_efficiency.csv')
    eff = load_efficiency(efficiency) if efficiency is not None else None
    if efficiency_dir == 'auto':
        efficiency_dir = reported.with_name('efficiency')
    measured, skipped_eff = (load_measured(efficiency_dir) if efficiency_dir is not None
                             else ([], []))
    runs, skipped = load_runs(results_dir)
    selected = select_runs(runs, select)
    n_syn = sum(1 for r in runs if r['synthetic'])
    shown = [r for r in selected if show_synthetic or not r['synthetic']]
    tidy = build_tidy(rep, shown)
    written = {}
    plot_list = []
    if plots:
        from .plots import write_plots
        plot_list = write_plots(tidy, eff, measured, out_dir / 'plots')
        for _, name in plot_list:
            written[f'plots/{name}'] = out_dir / 'plots' / name
    efficiency_name = (Path(efficiency_dir).name + '/') if efficiency_dir is not None else ''
    kw = dict(select=select, show_synthetic=show_synthetic, n_synthetic=n_syn, efficiency=eff,
              measured=measured, plots=plot_list, efficiency_name=efficiency_name)
    results_name = Path(results_dir).name + '/'
    md = render_markdown(tidy, reported_name=reported.name, results_name=results_name, **kw)
    written['README.md'] = out_dir / 'README.md'
    _write(written['README.md'], md)
    written['leaderboard.csv'] = out_dir / 'leaderboard.csv'
    _write(written['leaderboard.csv'], render_csv(tidy))
    if html:
        written['index.html'] = out_dir / 'index.html'
        _write(written['index.html'], render_html(tidy, **kw))
    return dict(tidy=tidy, runs=runs, selected=selected, skipped=skipped + skipped_eff,
                written=written, n_synthetic=n_syn, reported=rep, efficiency=eff,
                measured=measured, plots=plot_list)
