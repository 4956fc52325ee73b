"""The leaderboard page in HTML (``leaderboard/index.html``): self-contained, with the
CSS and JS of ``static/`` inlined, no network fetches."""
from __future__ import annotations

import html as _html
from pathlib import Path

import pandas as pd

from .plots import slug
from .sections import (EFFICIENCY_HEAD, EFFICIENCY_INTRO, EFFICIENCY_NUMERIC, GAP,
                       SHARED_FOOTNOTE, Section, _has_shared_mark, build_sections,
                       efficiency_rows, metric_header)

STATIC = Path(__file__).resolve().parent / 'static'


def _static(name: str) -> str:
    """A package data file of the page (``static/leaderboard.css`` / ``.js``)."""
    return (STATIC / name).read_text(encoding='utf-8')


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
                   *([f'<p class="note">{_e(sec.note.replace("`", ""))}</p>'] if sec.note else []),
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
        '<title>crbench leaderboard</title>',
        '<style>\n' + _static('leaderboard.css') + '</style>', '</head>', '<body>',
        '<h1>crbench leaderboard</h1>',
        '<p class="note">Generated by tools/leaderboard.py from reported.csv (numbers '
        'transcribed from the papers) and results/*.json (crbench test runs). Every row names '
        'its source. Δ rows: reproduced − reported for the same model × dataset × protocol. '
        f'Reproduced rows show one run per group (--select {_e(select)}). ↑/↓: higher/lower '
        'is better; bold: best in column among rows with the dataset\'s official protocol. '
        '[low, high] after a reproduced mean: 95 % bootstrap confidence interval over the '
        'test images. Variant (config changed by --cfg-options) and incomplete (test files '
        'missing) runs are labelled and get no Δ and no bold. '
        'Click a column header to sort.</p>',
        '<p class="note">Synthetic policy: runs on synthetic data never appear in the '
        'dataset tabs; they are listed only in their own tab when generated with '
        '--show-synthetic.</p>', hidden,
        '<div class="tabs">' + ''.join(buttons) + '</div>', *panels,
        '<script>\n' + _static('leaderboard.js') + '</script>', '</body>', '</html>']
    return '\n'.join(line for line in doc if line) + '\n'
