"""Sen2_MTC_New (CTGAN): three cloudy Sentinel-2 dates → one clear image (docs/datasets.md §5).

Each sample is ``Sen2_MTC/<TILE>/cloudless/<TILE>_<k>.tif`` (the target) and
``Sen2_MTC/<TILE>/cloud/<TILE>_<k>_{0,1,2}.tif`` (the cloudy time steps, always
in suffix order). Files are pixel-interleaved TIFFs, H×W×4 (R, G, B, NIR),
integer DN = reflectance × 10⁴; a band-sequential (planar) file is refused.

Differences from EMRDM's loader, all deliberate:

* Split files are read line by line: a one-line ``val.txt`` works (EMRDM's
  ``np.loadtxt`` returns a 0-d array and crashes).
* Within a tile, samples are in natural-sort order of ``cloudless/`` (EMRDM uses
  raw ``os.listdir`` order, which depends on the file system).
* Non-``.tif`` files in ``cloudless/`` are ignored with a warning (EMRDM turns
  them into bogus samples); a missing cloudy partner is an error naming it.

Pipeline (``configs/_base_/datasets/sen2mtc_new.py``): ``cloudy`` = T×4×H×W,
``gt`` = 3×H×W (the clear image's RGB, its NIR is discarded), both scaled
x/10000 then (x − 0.5)/0.5 with no clipping (a DN above 10,000 gives > 1).
Training adds ``RandomFlipRotate90``: one flip code and k×90° rotation per
sample, the same for every frame and the target, seeded by (seed, sample index).

Options ``multi_temporal=n`` keeps time steps ``_0`` … ``_{n-1}``;
``mono_temporal=j`` keeps only ``_j`` (EMRDM's ablations).
"""
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from crbench.registry import DATASETS
from .base import BaseCRDataset, natural_key
from .file_checks import inspect_files, subsample
from .transforms.geotiff import read_hwc_tiff, tiff_header

SEN2MTC_LAYOUT = """\
  <data_root>/                      e.g. CTGAN/Sen2_MTC/dataset (holds the three lists)
  ├── train.txt  val.txt  test.txt  one tile name per line (e.g. T12TUR_R027)
  └── Sen2_MTC/<TILE>/
      ├── cloudless/<TILE>_<k>.tif          clear target, H×W×4 uint16 (R, G, B, NIR)
      └── cloud/<TILE>_<k>_{0,1,2}.tif      the three cloudy dates, same format
  (some copies nest one more CTGAN/ level or ship Sen2_MTC.zip: unzip it first)"""

# Samples per split of the published release (docs/datasets.md §5).
PUBLISHED_COUNTS = {'train': 2380, 'val': 350, 'test': 687}
BANDS = ('R', 'G', 'B', 'NIR')
NUM_TIME_STEPS = 3


def read_tile_list(path: str) -> List[str]:
    """Tile names, one per whitespace-separated token; blank lines and '#' comments skipped."""
    tiles = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0]
            tiles.extend(line.split())
    return tiles


def find_nested_roots(root: str, depth: int = 3) -> List[str]:
    """Folders below ``root`` that hold ``train.txt`` and ``Sen2_MTC/`` (a nested copy)."""
    found, frontier = [], [root]
    for _ in range(depth):
        nxt = []
        for folder in frontier:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                path = osp.join(folder, name)
                if osp.isdir(path):
                    if osp.isfile(osp.join(path, 'train.txt')) and osp.isdir(
                            osp.join(path, 'Sen2_MTC')):
                        found.append(path)
                    nxt.append(path)
        frontier = nxt
    return found


def time_steps_for(multi_temporal: int = NUM_TIME_STEPS,
                   mono_temporal: Optional[int] = None) -> List[int]:
    if mono_temporal is not None:
        if mono_temporal not in range(NUM_TIME_STEPS):
            raise ValueError(f'mono_temporal must be 0, 1 or 2, got {mono_temporal!r}')
        return [int(mono_temporal)]
    if multi_temporal not in range(1, NUM_TIME_STEPS + 1):
        raise ValueError(f'multi_temporal must be 1, 2 or 3, got {multi_temporal!r}')
    return list(range(multi_temporal))


@dataclass
class Sen2MTCIndex:
    samples: List[dict] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)    # layout problems: no dataset possible
    missing: List[str] = field(default_factory=list)   # a sample lacks a cloudy partner
    ignored: List[str] = field(default_factory=list)   # non-.tif files skipped
    orphans: List[str] = field(default_factory=list)   # cloudy files without a target


def scan_sen2mtc(root: str, split: str, time_steps: Sequence[int] = (0, 1, 2)) -> Sen2MTCIndex:
    """List the samples of ``split`` under ``root`` without opening any image."""
    index = Sen2MTCIndex()
    list_path = osp.join(root, f'{split}.txt')
    images = osp.join(root, 'Sen2_MTC')
    if not osp.isfile(list_path) or not osp.isdir(images):
        what = list_path if not osp.isfile(list_path) else images
        hint = ''
        nested = find_nested_roots(root) if osp.isdir(root) else []
        if nested:
            hint = f'; a copy was found at {nested[0]!r}: use that folder as data_root'
        elif osp.isfile(osp.join(root, 'Sen2_MTC.zip')):
            hint = f'; unzip {osp.join(root, "Sen2_MTC.zip")!r} in place first'
        index.errors.append(f'{what!r} is missing{hint}')
        return index
    tiles = read_tile_list(list_path)
    if not tiles:
        index.errors.append(f'the split file {list_path!r} lists no tile')
        return index
    for tile in tiles:
        clear_dir = osp.join(images, tile, 'cloudless')
        cloud_dir = osp.join(images, tile, 'cloud')
        if not osp.isdir(clear_dir) or not osp.isdir(cloud_dir):
            index.errors.append(f'tile {tile!r} listed in {list_path!r} has no '
                                f'{"cloudless" if not osp.isdir(clear_dir) else "cloud"}/ '
                                f'folder under {osp.join(images, tile)!r}')
            continue
        cloud_names = set(os.listdir(cloud_dir))
        used = set()
        for name in sorted(os.listdir(clear_dir), key=natural_key):
            path = osp.join(clear_dir, name)
            if not name.lower().endswith('.tif') or not osp.isfile(path):
                index.ignored.append(path)
                continue
            stem = name[:-4]
            cloudy = [f'{stem}_{j}{name[-4:]}' for j in time_steps]
            absent = [c for c in cloudy if c not in cloud_names]
            used.update(f'{stem}_{j}{name[-4:]}' for j in range(NUM_TIME_STEPS))
            if absent:
                index.missing.append(f'{path!r} has no cloudy partner(s) '
                                     f'{[osp.join(cloud_dir, c) for c in absent]}')
                continue
            index.samples.append(dict(
                sample_id=stem, tile=tile, gt_path=path,
                cloudy_path=[osp.join(cloud_dir, c) for c in cloudy]))
        for name in sorted(cloud_names - used, key=natural_key):
            path = osp.join(cloud_dir, name)
            (index.orphans if name.lower().endswith('.tif') else index.ignored).append(path)
    return index


@DATASETS.register_module()
class Sen2MTCNewDataset(BaseCRDataset):
    """Sen2_MTC_New as extracted from CTGAN.zip (see the module docstring).

    Args:
        data_root: the folder holding ``train.txt``, ``val.txt``, ``test.txt``
            and ``Sen2_MTC/``.
        split: 'train', 'val' or 'test'.
        multi_temporal: number of cloudy time steps (1–3, suffixes ``_0``…).
        mono_temporal: keep only time step ``_j`` (overrides ``multi_temporal``).

    ``cloudy_path`` in a data info is the list of the T cloudy files, in time order.
    """

    DATASET_NAME = 'Sen2_MTC_New'
    OFFICIAL_PROTOCOLS = {'Sen2_MTC_New': 'sen2mtc_official'}  # §5.7
    LAYOUT = SEN2MTC_LAYOUT
    SPLITS = ('train', 'val', 'test')

    def __init__(self, data_root: str, split: str = 'train', multi_temporal: int = 3,
                 mono_temporal: Optional[int] = None, **kwargs):
        self.time_steps = time_steps_for(multi_temporal, mono_temporal)
        super().__init__(data_root=data_root, split=split, **kwargs)

    def load_data_list(self) -> List[dict]:
        index = scan_sen2mtc(self.data_root, self.split, self.time_steps)
        if index.errors:
            self.layout_error('; '.join(index.errors[:5]))
        if index.missing:
            self.layout_error(f'{len(index.missing)} sample(s) are incomplete: '
                              + '; '.join(index.missing[:3])
                              + ' (run tools/check_dataset.py for the full list)')
        if index.ignored:
            warnings.warn(f'Sen2MTCNewDataset: ignoring {len(index.ignored)} file(s) that are '
                          f'not .tif in the tile folders, e.g. {index.ignored[:3]}')
        for info in index.samples:
            info.update(time_steps=list(self.time_steps), band_names=list(BANDS[:3]),
                        cloudy_band_names=list(BANDS))
        return self.finish_data_list(index.samples)

    @classmethod
    def check_split(cls, cfg: dict, report, deep: bool = False,
                    max_samples: Optional[int] = None, progress=None) -> None:
        import numpy as np
        report.dataset = cls.DATASET_NAME
        report.published = PUBLISHED_COUNTS.get(report.split)
        try:
            steps = time_steps_for(cfg.get('multi_temporal', NUM_TIME_STEPS),
                                   cfg.get('mono_temporal'))
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
            header = tiff_header(path, len(BANDS))
            if deep:
                read_hwc_tiff(path, len(BANDS))
            if header['dtype'] != np.uint16:
                report.warnings.append(f'{path!r} stores {header["dtype"]}; the release is '
                                       'uint16 (the values are used as they are)')
            return None

        inspect_files([(p, check) for info in subsample(index.samples, max_samples)
                       for p in [info['gt_path'], *info['cloudy_path']]], report, progress)
