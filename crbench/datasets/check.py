"""Check a user's copy of a dataset against the layout crbench reads.

``check_dataset(config)`` walks every split a config uses (train / val / test
dataloaders) and reports, per split: the number of samples found against the
published count, samples with a missing partner file, files with the wrong band
count, dtype or layout, and unreadable files. Nothing is written: files are only
opened for reading (rasterio mode 'r', PIL, tifffile), and no cache is made.
By default only file headers are read (fast; catches truncated headers, wrong
bands/dtypes); ``deep=True`` decodes every pixel too.

``tools/check_dataset.py CONFIG`` prints the report as a table and exits with 1
when a split has errors (0 otherwise).
"""
import os.path as osp
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from .base import natural_key, read_synthetic_marker
from .transforms.geotiff import geotiff_header, read_geotiff, read_hwc_tiff, tiff_header
from .transforms.loading import ImageReadError, read_png

PUBLISHED_COUNTS = {
    'CUHK-CR1': {'train': 534, 'test': 134},
    'CUHK-CR2': {'train': 448, 'test': 111},
    'Sen2_MTC_New': {'train': 2380, 'val': 350, 'test': 687},
    # SEN12MS-CR depends on split_mode: crbench.datasets.sen12mscr.PUBLISHED_COUNTS.
}
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

KNOWN_TYPES = ('CUHKCRDataset', 'SEN12MSCRDataset', 'Sen2MTCNewDataset', 'RICEDataset')


def _type_name(cfg: dict) -> str:
    t = cfg.get('type')
    name = t if isinstance(t, str) else getattr(t, '__name__', str(t))
    return name.split('.')[-1]


def _unwrap(cfg: dict) -> List[dict]:
    """Dataset configs inside wrappers (RepeatDataset, ConcatDataset, ...)."""
    if _type_name(cfg) in KNOWN_TYPES:
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


# --------------------------------------------------------------------------- file inspection

PNG_MODES = {'L': 1, 'LA': 2, 'RGB': 3, 'RGBA': 4}


def inspect_png(path: str, min_channels: int, deep: bool) -> Optional[str]:
    """None if the PNG is an 8-bit image with at least ``min_channels`` channels, else why not."""
    from PIL import Image, UnidentifiedImageError
    if deep:
        try:
            array = read_png(path)
        except ImageReadError as err:
            return str(err)
        if array.dtype.name != 'uint8':
            return f'{path!r} decodes as {array.dtype.name}, 8-bit (uint8) expected'
        if array.shape[2] < min_channels:
            return (f'{path!r} has {array.shape[2]} channel(s), at least {min_channels} '
                    'expected')
        return None
    try:
        with Image.open(path) as img:
            mode = img.mode
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f'cannot read {path!r} ({err}): corrupt or not a PNG; re-extract it'
    if mode not in PNG_MODES:
        return (f'{path!r} is a {mode!r} image; an 8-bit grayscale or RGB PNG is expected '
                '(palette or 16-bit files are not decoded as the loaders expect)')
    if PNG_MODES[mode] < min_channels:
        return f'{path!r} has {PNG_MODES[mode]} channel(s) ({mode}), {min_channels} expected'
    return None


def _inspect(files: Iterable[tuple], report: SplitReport, deep: bool,
             progress: Optional[Callable[[], None]]) -> None:
    """Run ``check(path)`` for each ``(path, check)``; record what goes wrong."""
    for path, check in files:
        report.files_checked += 1
        try:
            problem = check(path)
        except ImageReadError as err:
            problem = str(err)
        if problem:
            report.errors.append(problem)
        if progress is not None:
            progress()


def _subsample(items: Sequence, max_items: Optional[int]) -> Sequence:
    if max_items is None or len(items) <= max_items:
        return items
    step = len(items) / max_items
    return [items[int(i * step)] for i in range(max_items)]


# --------------------------------------------------------------------------- per dataset

def check_sen12mscr(cfg: dict, report: SplitReport, deep: bool, max_samples, progress):
    from .sen12mscr import (PUBLISHED_COUNTS as S12, SEASON_DIR_RE, SPLIT_MODES,
                            describe_missing, key_name, scan_sen12mscr,
                            scene_in_split)
    mode = cfg.get('split_mode', 'exact')
    if mode not in SPLIT_MODES:
        report.errors.append(f'split_mode {mode!r} is not one of {SPLIT_MODES}')
        return
    report.dataset = 'SEN12MS-CR'
    report.published = S12[mode].get(report.split)
    report.published_note = mode
    root = report.data_root
    import os
    if not any(SEASON_DIR_RE.match(n) for n in os.listdir(root)):
        report.errors.append(f'no ROIs*_{{s1,s2,s2_cloudy}} folder in {root!r}')
        return
    index = scan_sen12mscr(root, lambda rs, sc: scene_in_split(rs, sc, report.split, mode))
    complete = index.complete()
    report.found = len(complete)
    report.errors.extend(f'missing partner: {describe_missing(k, m)}'
                         for k, m in index.incomplete())
    report.warnings.extend(f'not part of the layout, ignored: {osp.join(root, p)}'
                           for p in index.unparsed)
    specs = {'s1': (2, 'float32'), 's2': (13, 'uint16'), 's2_cloudy': (13, 'uint16')}
    for key in _subsample(complete, max_samples):
        headers = {}
        for mod, (count, dtype) in specs.items():
            path = index.triplets[key][mod]
            report.files_checked += 1
            try:
                if deep:
                    _, headers[mod] = read_geotiff(path, count, dtype)
                else:
                    headers[mod] = geotiff_header(path, count, dtype)
            except ImageReadError as err:
                report.errors.append(str(err))
            if progress is not None:
                progress()
        grids = {(h['crs'], tuple(round(v, 6) for v in h['transform']), h['height'], h['width'])
                 for h in headers.values()}
        if len(grids) > 1:
            report.warnings.append(f'{key_name(key)}: the three files are not '
                                   'on the same grid (CRS / transform / size differ)')


def check_sen2mtc(cfg: dict, report: SplitReport, deep: bool, max_samples, progress):
    import numpy as np

    from .sen2mtc import PUBLISHED_COUNTS as S2, scan_sen2mtc, time_steps_for
    report.dataset = 'Sen2_MTC_New'
    report.published = S2.get(report.split)
    try:
        steps = time_steps_for(cfg.get('multi_temporal', 3), cfg.get('mono_temporal'))
    except ValueError as err:
        report.errors.append(str(err))
        return
    index = scan_sen2mtc(report.data_root, report.split, steps)
    report.errors.extend(index.errors)
    report.found = len(index.samples) if not index.errors else None
    report.errors.extend(f'missing partner: {m}' for m in index.missing)
    report.warnings.extend(f'not a .tif, ignored: {p}' for p in index.ignored)
    report.warnings.extend(f'cloudy file without a cloudless target, unused: {p}'
                           for p in index.orphans)

    def check(path):
        header = tiff_header(path, 4)
        if deep:
            read_hwc_tiff(path, 4)
        if header['dtype'] != np.uint16:
            report.warnings.append(f'{path!r} stores {header["dtype"]}; the release is uint16 '
                                   '(the values are used as they are)')
        return None

    files = [(p, check) for info in _subsample(index.samples, max_samples)
             for p in [info['gt_path'], *info['cloudy_path']]]
    _inspect(files, report, deep, progress)


def check_cuhk(cfg: dict, report: SplitReport, deep: bool, max_samples, progress):
    import os
    root = report.data_root.rstrip('/')
    name = cfg.get('dataset_name') or osp.basename(root)
    report.dataset = name
    report.published = PUBLISHED_COUNTS.get(name, {}).get(report.split)
    use_nir = cfg.get('use_nir', True)
    nir_root = cfg.get('nir_root') or osp.join(osp.dirname(root), 'nir', osp.basename(root))
    from .base import VAL_FRACTION, VAL_SPLIT_SEED, carve_validation_split
    from .cuhk_cr import cuhk_folder
    folder = cuhk_folder(report.split)  # 'val' is carved from the train folder
    if report.split in ('train', 'val'):
        report.published, report.published_note = None, 'carved from the published train'
    folders = {'cloud': (osp.join(root, folder, 'cloud'), 3),
               'label': (osp.join(root, folder, 'label'), 3)}
    if use_nir:
        folders['nir cloud'] = (osp.join(nir_root, folder, 'cloud'), 1)
        folders['nir label'] = (osp.join(nir_root, folder, 'label'), 1)
    names = {}
    for key, (folder, _) in folders.items():
        if not osp.isdir(folder):
            report.errors.append(f'folder {folder!r} is missing')
            continue
        names[key] = {n for n in os.listdir(folder) if n.lower().endswith('.png')}
    if report.errors:
        return
    union = sorted(set().union(*names.values()), key=natural_key)
    complete = [n for n in union if all(n in listed for listed in names.values())]
    if report.split in ('train', 'val') and len(complete) >= 2:
        kept = set(carve_validation_split([osp.splitext(n)[0] for n in complete],
                                          cfg.get('val_seed', VAL_SPLIT_SEED),
                                          cfg.get('val_fraction', VAL_FRACTION))[report.split])
        complete = [n for n in complete if osp.splitext(n)[0] in kept]
    report.found = len(complete)
    for n in union:
        absent = [k for k, listed in names.items() if n not in listed]
        if absent:
            report.errors.append(f'missing partner: {n} has no file in '
                                 f'{[folders[k][0] for k in absent]}')
    files = [(osp.join(folders[k][0], n),
              (lambda c: (lambda p: inspect_png(p, c, deep)))(folders[k][1]))
             for n in _subsample(complete, max_samples) for k in folders]
    _inspect(files, report, deep, progress)


def check_rice(cfg: dict, report: SplitReport, deep: bool, max_samples, progress):
    from .base import DatasetLayoutError
    from .rice import RICEDataset, resolve_rice_root, scan_rice_pairs
    version = cfg.get('version', 1)
    report.dataset = f'RICE{version}'
    folder = resolve_rice_root(report.data_root, version)
    if folder is None:
        report.errors.append(f'no RICE{version}/cloud folder under {report.data_root!r}')
        return
    _, _, unpaired = scan_rice_pairs(folder)
    report.errors.extend(f'missing partner: {u} is in only one of '
                         f'{osp.join(folder, "cloud")!r} and {osp.join(folder, "label")!r}'
                         for u in unpaired)
    kwargs = {k: v for k, v in _plain(cfg).items()
              if k in ('version', 'split_file', 'split_seed')}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            dataset = RICEDataset(data_root=report.data_root, split=report.split, **kwargs)
    except (DatasetLayoutError, ValueError) as err:
        report.errors.append(str(err).split('\nExpected layout')[0])
        return
    report.found = len(dataset)
    source = dataset.split_source
    report.published_note = (f'8:2 from {osp.basename(source)}' if source
                             else '8:2 of the ids on disk')
    files = []
    for info in _subsample(dataset.data_list, max_samples):
        files += [(info['cloudy_path'], lambda p: inspect_png(p, 3, deep)),
                  (info['gt_path'], lambda p: inspect_png(p, 3, deep))]
        if 'cloud_mask_path' in info:
            files.append((info['cloud_mask_path'], lambda p: inspect_png(p, 1, deep)))
    _inspect(files, report, deep, progress)


CHECKERS = {'SEN12MSCRDataset': check_sen12mscr, 'Sen2MTCNewDataset': check_sen2mtc,
            'CUHKCRDataset': check_cuhk, 'RICEDataset': check_rice}


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
        root = osp.expanduser(str(plain.get('data_root', '')))
        split = plain.get('split', 'train')
        split_report = SplitReport(dataset=type_name, split=split, data_root=root,
                                   used_by=[used_by])
        seen[key] = split_report
        report.splits.append(split_report)
        if type_name not in CHECKERS:
            split_report.errors.append(f'no checker for dataset type {type_name!r}; known: '
                                       f'{sorted(CHECKERS)}')
            continue
        if not osp.isdir(root):
            split_report.errors.append(f'data_root {root!r} does not exist; set data_root in '
                                       'the config or pass --data-root')
            continue
        split_report.synthetic = read_synthetic_marker(root) is not None
        try:
            CHECKERS[type_name](plain, split_report, deep, max_samples, progress)
        except OSError as err:
            split_report.errors.append(f'cannot walk {root!r}: {err}')
    return report
