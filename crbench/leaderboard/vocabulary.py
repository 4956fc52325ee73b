"""What the leaderboard knows about datasets, protocols, metrics and models.

Nothing is listed here: datasets and their official protocol come from the
dataset registry (``OFFICIAL_PROTOCOLS`` of each registered dataset class, in
registration order), metrics and their direction from the metric protocols
(``crbench.evaluation.protocols.PROTOCOLS``, each protocol's ``metrics``), and
models' display names and order from the model index (``metafile.yml`` files,
:mod:`crbench.model_index`). A plugin that registers a dataset or a protocol,
or ships a metafile, extends all three without editing crbench.

:func:`current` is the vocabulary in use; :func:`load` rebuilds it (after
plugins were imported, or with extra metafiles).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional


@dataclass
class Vocabulary:
    datasets: dict = field(default_factory=dict)     # name -> official protocol, in order
    protocols: dict = field(default_factory=dict)    # name -> {metric: higher is better}
    metrics: dict = field(default_factory=dict)      # metric -> +1 / -1, column order
    index: object = None                             # crbench.model_index.ModelIndex

    # -- models -----------------------------------------------------------
    def model_display(self, model: str, fallback: Optional[str] = None) -> str:
        return self.index.display(model, fallback) if self.index is not None else \
            (fallback or model)

    def model_rank(self, model: str) -> tuple:
        return self.index.rank(model) if self.index is not None else (1, 0, model)

    def known_model(self, model: str) -> bool:
        return self.index is not None and self.index.get(model) is not None

    def implemented_models(self) -> list:
        """Keys of the models with a config: each gets a (gap) row on every dataset table."""
        if self.index is None:
            return []
        return [c.key for c in self.index.ordered() if c.implemented]

    # -- datasets, metrics ------------------------------------------------
    def dataset_rank(self, dataset: str) -> tuple:
        names = list(self.datasets)
        return (names.index(dataset), '') if dataset in names else (len(names), dataset)

    def metric_rank(self, metric: str) -> tuple:
        names = list(self.metrics)
        return (names.index(metric), '') if metric in names else (len(names), metric)


def registered_datasets() -> dict:
    """``{dataset name: official protocol}`` of every registered dataset class."""
    from crbench.registry import DATASETS
    import crbench.datasets  # noqa: F401  (registers crbench's datasets, in display order)
    out = {}
    for cls in DATASETS.module_dict.values():
        for name, protocol in (getattr(cls, 'OFFICIAL_PROTOCOLS', None) or {}).items():
            out.setdefault(name, protocol)
    return out


def registered_protocols() -> dict:
    """``{protocol name: {metric: higher is better}}`` of every metric protocol."""
    from crbench.evaluation.protocols import PROTOCOLS
    return {name: dict(cls.metrics) for name, cls in PROTOCOLS.items()}


_CURRENT: Optional[Vocabulary] = None


def load(extra_metafiles: Iterable[str] = (), plugins: Iterable[str] = (),
         optional_plugins: Iterable[str] = ()) -> Vocabulary:
    """Rebuild the vocabulary; ``plugins`` are modules to import first (they register
    datasets/protocols and may ship a ``metafile.yml``). ``optional_plugins`` (those
    named by the runs' configs) that fail to import are skipped with a warning: their
    rows then show, labelled as unknown."""
    global _CURRENT
    import importlib
    import warnings
    from crbench.model_index import load_model_index
    from .collect import LeaderboardWarning
    plugins = list(plugins)
    for name in plugins:
        importlib.import_module(name)
    for name in optional_plugins:
        if name in plugins:
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            warnings.warn(f'leaderboard: cannot import {name!r} (custom_imports of a run\'s '
                          f'config): {err}', LeaderboardWarning, stacklevel=2)
            continue
        plugins.append(name)
    from crbench.evaluation.statistics import declared_directions
    _CURRENT = Vocabulary(datasets=registered_datasets(), protocols=registered_protocols(),
                          metrics={m: 1 if higher else -1
                                   for m, higher in declared_directions().items()},
                          index=load_model_index(extra_metafiles, plugins))
    return _CURRENT


def current() -> Vocabulary:
    """The vocabulary in use (first use: crbench's, with the default leaderboard's metafile)."""
    if _CURRENT is None:
        from .collect import default_leaderboard_dir
        beside = default_leaderboard_dir() / 'metafile.yml'
        return load([str(beside)] if beside.is_file() else [])
    return _CURRENT
