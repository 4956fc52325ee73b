"""PNG figures of the leaderboard (matplotlib, Agg backend).

* ``<dataset>_metrics.png``: one panel per metric, one bar per model and row
  kind (reported / reproduced), for every dataset with numbers.
* ``quality_vs_cost.png``: PSNR against MACs (log scale), one panel per dataset
  that has both, from the papers' efficiency tables and the crbench
  measurements (``tools/benchmark.py``, 256 x 256 only).

Only rows that use the dataset's official protocol are plotted (the ones that
compete for bold in the tables), real runs only. When a model is reported by
several papers with different values, the row of the first source in the
tables' order (alphabetical) is plotted. Figures are deterministic: fixed size and DPI, no date, PNG
metadata without the software version, so rerunning on the same inputs (and
the same matplotlib and fonts) writes the same bytes.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from . import vocabulary
from .collect import (dataset_rank, known_datasets, metric_direction, model_display, model_rank,
                      official_protocol)
from .sections import metric_header


def efficiency_datasets(name: str) -> tuple:
    """The datasets an efficiency row stands for: itself, or the registered datasets
    of its family (``CUHK-CR`` -> ``CUHK-CR1``, ``CUHK-CR2``)."""
    known = known_datasets()
    if name in known:
        return (name, )
    return tuple(d for d in known if d.startswith(name)) or (name, )


def efficiency_model(model: str) -> str:
    """The model whose efficiency row stands for ``model`` (the metafile's
    ``Efficiency Key``: DE-MemoryNet and DE-MSDA share DE's, EMRDM App. C.2)."""
    index = vocabulary.current().index
    collection = index.get(model) if index is not None else None
    return (collection.efficiency_key if collection else '') or model


#: bar colour of a row kind; in the scatter, of the PSNR's kind
KIND_COLOR = {'reported': '#5b7fa6', 'reproduced': '#e08a2c'}
#: (PSNR kind, MACs kind) -> marker, legend label
SCATTER_STYLE = {
    ('reported', 'reported'): ('o', 'PSNR reported · MACs reported (paper)'),
    ('reported', 'measured'): ('^', 'PSNR reported · MACs measured (crbench)'),
    ('reproduced', 'reported'): ('s', 'PSNR reproduced · MACs reported (paper)'),
    ('reproduced', 'measured'): ('*', 'PSNR reproduced · MACs measured (crbench)'),
}
PNG_METADATA = {'Software': None}
DPI = 100


def slug(text: str) -> str:
    return ''.join(ch if ch.isalnum() else '-' for ch in text).strip('-').lower()


#: Fixed style (matplotlib defaults plus these), whatever the user's matplotlibrc says.
RC = {'font.family': 'DejaVu Sans', 'font.size': 8, 'path.simplify': True}


@contextlib.contextmanager
def _style():
    """matplotlib defaults + :data:`RC`, restored afterwards (no global state is changed)."""
    import matplotlib
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(RC)
        yield


def _figure(**kw):
    """A figure with the Agg canvas, independent of pyplot and of the selected backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def metric_values(tidy: pd.DataFrame) -> pd.DataFrame:
    """One value per dataset x model x kind x metric, official protocol, real rows.

    Columns: dataset, model, kind (reported | reproduced), metric, value.
    """
    rows = []
    real = tidy[(tidy.synthetic == 'false') & tidy.kind.isin(['reported', 'reproduced'])]
    for r in real.itertuples(index=False):
        if r.protocol != official_protocol(r.dataset) or metric_direction(r.metric) is None:
            continue
        if r.kind == 'reproduced' and r.split not in ('', 'test'):
            continue
        rows.append(dict(dataset=r.dataset, model=r.model, kind=r.kind, metric=r.metric,
                         value=float(r.value)))
    df = pd.DataFrame.from_records(rows, columns=['dataset', 'model', 'kind', 'metric', 'value'])
    # the first source wins (the tidy table is sorted by source within a model)
    return df.drop_duplicates(['dataset', 'model', 'kind', 'metric'], keep='first')


def _reported_macs(eff: pd.DataFrame | None) -> dict:
    """(dataset, model) -> MACs (G) from reported_efficiency.csv (first row wins)."""
    out = {}
    if eff is None:
        return out
    for r in eff.itertuples(index=False):
        if not r.macs_G or not r.dataset:
            continue
        for ds in efficiency_datasets(r.dataset):
            out.setdefault((ds, r.model), float(r.macs_G))
    return out


def _measured_macs(measured: list[dict]) -> dict:
    """(dataset, model) -> MACs (G) per network evaluation, 256 x 256 measurements only."""
    out = {}
    for m in measured:
        if m.get('size') == 256 and m.get('dataset'):
            out.setdefault((m['dataset'], m['model']), m['macs'] / 1e9)
    return out


def scatter_points(tidy: pd.DataFrame, eff: pd.DataFrame | None,
                   measured: list[dict]) -> pd.DataFrame:
    """PSNR x MACs points: dataset, model, psnr_kind, macs_kind, psnr, macs_G."""
    vals = metric_values(tidy)
    psnr = vals[vals.metric == 'PSNR']
    rep, mea = _reported_macs(eff), _measured_macs(measured)
    rows = []
    for r in psnr.itertuples(index=False):
        for macs_kind, table in (('reported', rep), ('measured', mea)):
            keys = [(r.dataset, r.model)]
            if macs_kind == 'reported' and efficiency_model(r.model) != r.model:
                keys.append((r.dataset, efficiency_model(r.model)))
            macs = next((table[k] for k in keys if k in table), None)
            if macs is not None and macs > 0:
                rows.append(dict(dataset=r.dataset, model=r.model, psnr_kind=r.kind,
                                 macs_kind=macs_kind, psnr=r.value, macs_G=macs))
    return pd.DataFrame.from_records(
        rows, columns=['dataset', 'model', 'psnr_kind', 'macs_kind', 'psnr', 'macs_G'])


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format='png', metadata=PNG_METADATA)


def plot_metric_bars(vals: pd.DataFrame, dataset: str, path: Path) -> None:
    with _style():
        _plot_metric_bars(vals, dataset, path)


def _plot_metric_bars(vals: pd.DataFrame, dataset: str, path: Path) -> None:
    d = vals[vals.dataset == dataset]
    order = list(vocabulary.current().metrics)
    metrics = sorted(d.metric.unique(), key=order.index)
    models = sorted(d.model.unique(), key=model_rank)
    n = len(models)
    fig = _figure(figsize=(2.6 * len(metrics) + 1.8, 0.32 * n + 1.3))
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)
    kinds = [k for k in ('reported', 'reproduced') if k in set(d.kind)]
    height = 0.8 / len(kinds)
    for ax, metric in zip(axes[0], metrics):
        dm = d[d.metric == metric]
        for i, kind in enumerate(kinds):
            dk = dm[dm.kind == kind].set_index('model')['value']
            ys = [j + (i - (len(kinds) - 1) / 2) * height for j, m in enumerate(models)
                  if m in dk.index]
            xs = [dk[m] for m in models if m in dk.index]
            ax.barh(ys, xs, height=height * 0.95, color=KIND_COLOR[kind], label=kind)
        ax.set_title(metric_header(metric))
        ax.grid(axis='x', color='#dddddd', linewidth=0.5)
        ax.set_axisbelow(True)
        lo, hi = dm.value.min(), dm.value.max()
        if metric == 'PSNR' and lo > 0:  # PSNR bars from a floor, not 0, to show differences
            ax.set_xlim(max(0.0, lo - 0.15 * (hi - lo) - 1.0), hi + 0.05 * (hi - lo) + 0.5)
    ax0 = axes[0][0]
    ax0.set_yticks(range(n))
    ax0.set_yticklabels([model_display(m) for m in models])
    ax0.set_ylim(n - 0.5, -0.5)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=len(kinds), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f'{dataset}: official protocol ({official_protocol(dataset) or ""})',
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    _save(fig, path)


def plot_quality_vs_cost(points: pd.DataFrame, path: Path) -> None:
    with _style():
        _plot_quality_vs_cost(points, path)


def _plot_quality_vs_cost(points: pd.DataFrame, path: Path) -> None:
    from matplotlib import ticker
    datasets = sorted(points.dataset.unique(), key=dataset_rank)
    ncol = min(2, len(datasets))
    nrow = (len(datasets) + ncol - 1) // ncol
    fig = _figure(figsize=(max(5.2 * ncol, 8.0), 3.8 * nrow + 0.9))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    seen = {}
    for ax, ds in zip(axes.flat, datasets):
        d = points[points.dataset == ds]
        for (pk, mk), (marker, label) in SCATTER_STYLE.items():
            g = d[(d.psnr_kind == pk) & (d.macs_kind == mk)]
            if not len(g):
                continue
            h = ax.scatter(g.macs_G, g.psnr, marker=marker, s=60 if marker == '*' else 30,
                           color=KIND_COLOR[pk], edgecolors='black' if mk == 'measured'
                           else 'none', linewidths=0.5, zorder=3)
            seen.setdefault(label, h)
            for r in g.sort_values(['model', 'macs_G']).itertuples(index=False):
                ax.annotate(model_display(r.model), (r.macs_G, r.psnr), fontsize=6.5,
                            xytext=(4, 3), textcoords='offset points')
        ax.set_xscale('log')
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f'{v:g}'))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(ds)
        ax.set_xlabel('MACs per network evaluation (G), 1×C×256×256, log scale')
        ax.set_ylabel('PSNR (dB) ↑')
        ax.grid(color='#dddddd', linewidth=0.5, which='both')
        ax.set_axisbelow(True)
        lo, hi = d.macs_G.min(), d.macs_G.max()
        ax.set_xlim(lo / 1.6, hi * 2.2)
    for ax in list(axes.flat)[len(datasets):]:
        ax.set_visible(False)
    labels = [lab for _, lab in SCATTER_STYLE.values() if lab in seen]
    fig.legend([seen[lab] for lab in labels], labels, loc='lower center',
               ncol=min(2, len(labels)), frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle('Quality vs cost, official protocols\n(diffusion models: MACs of one network '
                 'evaluation, not of the whole sampling)', fontsize=9)
    bottom = (0.09 if len(labels) > 2 else 0.05) / nrow
    fig.tight_layout(rect=(0, bottom, 1, 1 - 0.08 / nrow))
    _save(fig, path)


def write_plots(tidy: pd.DataFrame, eff: pd.DataFrame | None, measured: list[dict],
                out_dir) -> list[tuple[str, str]]:
    """Write the figures into ``out_dir``; returns ``[(title, file name)]`` in display order.

    Stale ``*.png`` files of ``out_dir`` that this run does not write are removed,
    so the folder always matches the page that links to it.
    """
    out_dir = Path(out_dir)
    written = []
    vals = metric_values(tidy)
    for ds in sorted(set(known_datasets()) | set(vals.dataset), key=dataset_rank):
        if not (vals.dataset == ds).any():
            continue
        name = f'{slug(ds)}_metrics.png'
        plot_metric_bars(vals, ds, out_dir / name)
        written.append((f'{ds}: metrics, reported and reproduced', name))
    points = scatter_points(tidy, eff, measured)
    if len(points):
        plot_quality_vs_cost(points, out_dir / 'quality_vs_cost.png')
        written.append(('Quality vs cost: PSNR against MACs', 'quality_vs_cost.png'))
    keep = {name for _, name in written}
    if out_dir.is_dir():
        for stale in out_dir.glob('*.png'):
            if stale.name not in keep:
                stale.unlink()
    return written
