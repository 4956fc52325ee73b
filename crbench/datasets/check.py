"""The report of a check of a user's copy of a dataset against the layout crbench reads.

``check_dataset(config)`` finds every split a config uses (train / val / test
dataloaders) and lets the split's dataset class check it
(``<Dataset>.check_split``, beside each dataset, reusing its own scan and its
published counts). Per split the report holds: the number of samples found
against the published count, samples with a missing partner file, files with
the wrong band count, dtype or layout, and unreadable files. Nothing is written:
files are only opened for reading (rasterio mode 'r', PIL, tifffile), and no
cache is made. By default only file headers are read (fast; catches truncated
headers, wrong bands/dtypes); ``deep=True`` decodes every pixel too.

``tools/check_dataset.py CONFIG`` prints the report as a table and exits with 1
when a split has errors (0 otherwise).
"""
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

from .base import read_synthetic_marker

MAX_LISTED = 10


@dataclass
class SplitReport:
    """The outcome for one (dataset, data_root, split) a config uses."""
    dataset: str
    split: str
    data_root: str
    used_by: List[str] = field(default_factory=list)   # e.g. ['val_dataloader', ...]
    found: Optional[int] = None
    published: Optional[int] = None
    published_note: str = ''
    files_checked: int = 0
    synthetic: bool = False
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def count_differs(self) -> bool:
        return (self.published is not None and self.found is not None
                and self.found != self.published and not self.synthetic)

    @property
    def status(self) -> str:
        if self.errors:
            return 'errors'
        if self.count_differs:
            return 'count differs'
        return 'warnings' if self.warnings else 'ok'


@dataclass
class DatasetCheckReport:
    splits: List[SplitReport] = field(default_factory=list)
    strict_counts: bool = False

    @property
    def ok(self) -> bool:
        return all(not s.errors and not (self.strict_counts and s.count_differs)
                   for s in self.splits)

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict:
        return dict(ok=self.ok, splits=[asdict(s) | {'status': s.status} for s in self.splits])

    def render(self, console=None) -> None:
        """Print a rich table and the problems of each split."""
        from rich.console import Console
        from rich.table import Table
        console = console or Console()
        roots = {s.data_root for s in self.splits}
        one_root = len(roots) == 1
        table = Table(title='crbench dataset check'
                      + (f'\n{next(iter(roots))}' if one_root else ''))
        columns = ['Dataset', 'Split', 'Used by', 'Found', 'Published', 'Files checked',
                   'Status'] + ([] if one_root else ['Root'])
        for column in columns:
            table.add_column(column, overflow='fold')
        colours = {'ok': 'green', 'warnings': 'yellow', 'count differs': 'yellow',
                   'errors': 'red'}
        for s in self.splits:
            published = '—' if s.published is None else f'{s.published:,}'
            if s.published_note:
                published += f' ({s.published_note})'
            found = '—' if s.found is None else f'{s.found:,}'
            status = s.status + (' (synthetic copy)' if s.synthetic else '')
            row = [s.dataset, s.split, ', '.join(u.replace('_dataloader', '') for u in s.used_by),
                   found, published, str(s.files_checked), f'[{colours[s.status]}]{status}[/]']
            table.add_row(*row + ([] if one_root else [s.data_root]))
        console.print(table)
        for s in self.splits:
            for kind, items, colour in (('error', s.errors, 'red'),
                                        ('warning', s.warnings, 'yellow')):
                if not items:
                    continue
                console.print(f'[{colour}]{s.dataset} {s.split}: {len(items)} {kind}(s)[/]')
                for item in items[:MAX_LISTED]:
                    console.print(f'  - {item}', markup=False, highlight=False)
                if len(items) > MAX_LISTED:
                    console.print(f'  … and {len(items) - MAX_LISTED} more')
        verdict = ('[green]all splits usable[/]' if self.ok else
                   '[red]problems found: fix them (re-extract the named files) before '
                   'training or testing[/]')
        console.print(verdict)


# --------------------------------------------------------------------------- config walking

def _type_name(cfg: dict) -> str:
    t = cfg.get('type')
    name = t if isinstance(t, str) else getattr(t, '__name__', str(t))
    return name.split('.')[-1]


def dataset_class(cfg: dict):
    """The registered class of a dataset config if it can check itself, else None."""
    from crbench.registry import DATASETS
    t = cfg.get('type')
    if isinstance(t, type):
        cls = t
    else:
        import crbench.datasets  # noqa: F401  (registers crbench's datasets)
        name = str(t)
        cls = DATASETS.get(name) or DATASETS.get(name.split('.')[-1])
    return cls if isinstance(cls, type) and hasattr(cls, 'check_split') else None


def _unwrap(cfg: dict) -> List[dict]:
    """Dataset configs inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    if dataset_class(cfg) is not None:
        return [cfg]
    if 'dataset' in cfg:
        return _unwrap(cfg['dataset'])
    if 'datasets' in cfg:
        return [c for sub in cfg['datasets'] for c in _unwrap(sub)]
    return [cfg]


def dataset_cfgs(cfg_or_dataset_cfgs) -> List[tuple]:
    """``[(used_by, dataset_cfg), ...]`` from a config path / Config / dataset cfg(s)."""
    from mmengine.config import Config
    obj = cfg_or_dataset_cfgs
    if isinstance(obj, str):
        obj = Config.fromfile(obj)
    if isinstance(obj, (list, tuple)):
        return [(f'dataset[{i}]', c) for i, item in enumerate(obj) for c in _unwrap(item)]
    if not hasattr(obj, 'get'):
        raise TypeError(f'check_dataset expects a config path, a Config, a dataset config dict '
                        f'or a list of them, got {type(obj).__name__}')
    if 'type' in obj:
        return [('dataset', c) for c in _unwrap(obj)]
    out = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = obj.get(key)
        if loader and loader.get('dataset') is not None:
            out.extend((key, c) for c in _unwrap(loader['dataset']))
    if not out:
        raise ValueError('the config has no train_dataloader / val_dataloader / '
                         'test_dataloader with a dataset to check')
    return out


def _plain(cfg) -> dict:
    return {k: v for k, v in dict(cfg).items() if k != 'pipeline'}


def check_dataset(cfg_or_dataset_cfgs, deep: bool = False, max_samples: Optional[int] = None,
                  strict_counts: bool = False, data_root: Optional[str] = None,
                  progress: Optional[Callable[[], None]] = None) -> DatasetCheckReport:
    """Check every split a config (or dataset config(s)) uses; never writes anything.

    Args:
        cfg_or_dataset_cfgs: a config file path, an mmengine ``Config`` / dict with
            ``*_dataloader`` entries, one dataset config dict, or a list of them.
        deep: decode every pixel, not only the headers.
        max_samples: inspect the files of at most this many samples per split
            (evenly spaced); counting and partner checks always cover all.
        strict_counts: make a count that differs from the published one an error.
        data_root: check this folder instead of each dataset's ``data_root``.
        progress: called once per inspected file.
    """
    report = DatasetCheckReport(strict_counts=strict_counts)
    seen: Dict[str, SplitReport] = {}
    for used_by, cfg in dataset_cfgs(cfg_or_dataset_cfgs):
        plain = _plain(cfg)
        if data_root is not None:
            plain['data_root'] = data_root
        key = repr(sorted((k, repr(v)) for k, v in plain.items()))
        if key in seen:
            seen[key].used_by.append(used_by)
            continue
        type_name = _type_name(plain)
        cls = dataset_class(plain)
        root = osp.expanduser(str(plain.get('data_root', '')))
        split = plain.get('split', 'train')
        split_report = SplitReport(dataset=type_name, split=split, data_root=root,
                                   used_by=[used_by])
        seen[key] = split_report
        report.splits.append(split_report)
        if cls is None:
            split_report.errors.append(f'dataset type {type_name!r} is not a registered dataset '
                                       'with a check_split method (crbench.datasets.base.'
                                       'BaseCRDataset provides one to override)')
            continue
        if not osp.isdir(root):
            split_report.errors.append(f'data_root {root!r} does not exist; set data_root in '
                                       'the config or pass --data-root')
            continue
        split_report.synthetic = read_synthetic_marker(root) is not None
        try:
            cls.check_split(plain, split_report, deep=deep, max_samples=max_samples,
                            progress=progress)
        except OSError as err:
            split_report.errors.append(f'cannot walk {root!r}: {err}')
    return report
