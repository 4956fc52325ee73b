"""Write the leaderboard: Markdown (:mod:`.markdown`), HTML (:mod:`.html`), tidy CSV, plots.

All outputs are deterministic (no timestamps, stable sort), so regenerating
with the same inputs is byte-identical.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import vocabulary
from .collect import (build_tidy, load_efficiency, load_measured, load_reported, load_runs,
                      select_runs)
from .html import render_html
from .markdown import render_markdown
from .sections import build_sections

__all__ = ['build_sections', 'render_csv', 'render_html', 'render_markdown', 'write_leaderboard']


def run_plugins(runs: list) -> list:
    """Modules in the ``custom_imports`` of the runs' configs (configs that exist here)."""
    import os.path as osp
    modules = []
    for config in dict.fromkeys(str(r.get('config') or '') for r in runs):
        if not config.endswith('.py') or not osp.isfile(config):
            continue
        from mmengine.config import Config
        try:
            cfg = Config.fromfile(config, import_custom_modules=False)
        except Exception:  # noqa: BLE001  (a broken config must not stop the leaderboard)
            continue
        imports = (cfg.get('custom_imports') or {}).get('imports') or []
        modules += [imports] if isinstance(imports, str) else list(imports)
    return list(dict.fromkeys(modules))


def render_csv(tidy: pd.DataFrame) -> str:
    return tidy.to_csv(index=False, lineterminator='\n')


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text)


def write_leaderboard(results_dir='leaderboard/results', reported='leaderboard/reported.csv',
                      out_dir='leaderboard', *, select: str = 'latest',
                      show_synthetic: bool = False, html: bool = True,
                      efficiency='auto', efficiency_dir='auto', plots: bool = False,
                      plugins=(), metafiles=()) -> dict:
    """Regenerate ``README.md``, ``leaderboard.csv`` (and ``index.html``) in ``out_dir``.

    ``efficiency``: path of ``reported_efficiency.csv``; ``'auto'`` looks next to
    ``reported``; ``None`` leaves the reported efficiency rows out.
    ``efficiency_dir``: folder of ``tools/benchmark.py`` JSON files; ``'auto'``
    is ``efficiency/`` next to ``reported``; ``None`` leaves measured rows out.
    ``plots``: also write PNG figures into ``out_dir/plots`` and link them
    (needs matplotlib; off by default because it is the slow part).
    Datasets, protocols and models come from the registries and the model index
    (:mod:`.vocabulary`): ``plugins`` are modules to import first (they register
    datasets/protocols and may ship a ``metafile.yml``); the ``custom_imports``
    of the runs' configs are imported too; ``metafiles`` are extra metafile
    paths; a ``metafile.yml`` next to ``reported`` is always read.
    Returns a summary dict (tidy frame, selected runs, skipped files, written paths).
    """
    reported = Path(reported)
    out_dir = Path(out_dir)
    runs, skipped = load_runs(results_dir)
    beside = reported.with_name('metafile.yml')
    vocabulary.load([str(beside)] * beside.is_file() + list(metafiles), plugins,
                    optional_plugins=run_plugins(runs))
    rep = load_reported(reported)
    if efficiency == 'auto':
        efficiency = reported.with_name('reported_efficiency.csv')
    eff = load_efficiency(efficiency) if efficiency is not None else None
    if efficiency_dir == 'auto':
        efficiency_dir = reported.with_name('efficiency')
    measured, skipped_eff = (load_measured(efficiency_dir) if efficiency_dir is not None
                             else ([], []))
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
