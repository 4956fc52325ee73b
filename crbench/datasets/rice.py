"""RICE1 and RICE2 read from the raw download (docs/datasets.md §3).

Layout: ``RICE_DATASET/RICE1/{cloud,label}/<n>.png`` and
``RICE_DATASET/RICE2/{cloud,label,mask}/<n>.png``; a pair is the same file name
under ``cloud/`` and ``label/``. Images are 512×512 RGB PNGs; an RGBA file has
its alpha dropped (the loaders read channels 0–2). The RICE2 cloud mask is
listed in the data info (``cloud_mask_path``) but no published loader reads it.
The pipeline halves the images with MATLAB bicubic (512 → 256) and maps 0–255 to
[-1, 1] without clipping, as for CUHK-CR.

Split. No split of RICE is published, only the 8:2 ratio. crbench fixes one:

1. take the ids (file stems) that have both a cloudy and a label image, in
   natural order (0, 1, 2, …, 10, …);
2. n_test = floor(0.2 · n + 0.5);
3. the ids that appear in the DE / collection figures (``FIGURE_IDS``) and exist
   go to test first, so that the papers' figure images are test images;
4. the remaining test places are filled in the order of
   ``numpy.random.default_rng(RICE_SPLIT_SEED).permutation(n)`` over the sorted
   ids, skipping ids already placed; everything else is train.

``make_rice_split`` implements it and ``tools/make_rice_split.py`` writes the
lists. The rule sees every id with a cloudy *or* a label image, so a copy that
lacks one partner file keeps the same split; the incomplete sample is skipped
and listed in ``dataset.skipped``. RICE1 ships lists for its published ids
0…499 (400 / 100) in ``crbench/datasets/splits/rice1_{train,test}.txt``; they are
used by default and a copy whose ids differ is refused with a message. RICE2's id
range is not known (the paper says 450 triplets, the release reportedly 736,
figures use ids up to 630), so no RICE2 list is shipped: by default the same rule
is applied to the ids found on disk (``split_file=None``), which is deterministic
for a given copy. Run ``tools/make_rice_split.py --root <RICE_DATASET> --version 2``
to freeze it.

Validation. No validation split is published either. Split 'val' is carved from
the 8:2 training split with ``carve_validation_split`` (crbench/datasets/base.py:
10 %, seed 0; RICE1: 360 train / 40 val) and split 'train' is the rest of it, so
checkpoint selection never sees a test image; 'trainval' is the whole 8:2
training split (what the papers trained on).
"""
import math
import os
import os.path as osp
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from crbench.registry import DATASETS
from .base import VAL_FRACTION, VAL_SPLIT_SEED, BaseCRDataset, DatasetLayoutError, natural_key
from .file_checks import inspect_files, png_check, subsample

RICE_LAYOUT = """\
  RICE_DATASET/                   <- data_root (as extracted from RICE_DATASET.zip)
  ├── RICE1/{cloud,label}/<n>.png         512×512 RGB, uint8
  └── RICE2/{cloud,label,mask}/<n>.png    512×512 RGB (mask: single channel)"""

RICE_SPLIT_SEED = 0
TEST_FRACTION = 0.2
# Ids shown in the DE (RICE1; RICE2 421) and collection (RICE2) figures; kept in test.
FIGURE_IDS = {1: ('0', '105', '143', '368', '425', '458', '495'),
              2: ('17', '49', '185', '209', '309', '408', '421', '619', '630')}
SPLIT_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'splits')


def shipped_split_file(version: int, split: str) -> str:
    return osp.join(SPLIT_DIR, f'rice{version}_{split}.txt')


def make_rice_split(ids: Iterable[str], seed: int = RICE_SPLIT_SEED,
                    test_fraction: float = TEST_FRACTION,
                    force_test: Sequence[str] = ()) -> Dict[str, List[str]]:
    """The documented 8:2 split (module docstring) of ``ids``: {'train': [...], 'test': [...]}."""
    ids = sorted(set(str(i) for i in ids), key=natural_key)
    n_test = int(math.floor(test_fraction * len(ids) + 0.5))
    present = set(ids)
    test = [i for i in dict.fromkeys(str(f) for f in force_test) if i in present]
    if len(test) > n_test:
        raise ValueError(f'{len(test)} forced test ids but only {n_test} test places')
    chosen = set(test)
    for position in np.random.default_rng(seed).permutation(len(ids)):
        if len(chosen) >= n_test:
            break
        chosen.add(ids[position])
    return {'train': [i for i in ids if i not in chosen], 'test': [i for i in ids if i in chosen]}


def read_id_list(path: str) -> List[str]:
    """One id per line (a file name with or without '.png'); blanks and '#' comments skipped."""
    out = []
    with open(path) as f:
        for line in f:
            for token in line.split('#', 1)[0].split():
                out.append(token[:-4] if token.lower().endswith('.png') else token)
    return out


def resolve_rice_root(data_root: str, version: int) -> Optional[str]:
    """``<data_root>/RICE<v>`` or ``data_root`` itself if it is that folder; None if neither."""
    candidate = osp.join(data_root, f'RICE{version}')
    if osp.isdir(osp.join(candidate, 'cloud')):
        return candidate
    if osp.isdir(osp.join(data_root, 'cloud')) and osp.basename(
            osp.normpath(data_root)) == f'RICE{version}':
        return data_root
    return None


def scan_rice_pairs(folder: str):
    """``(cloud, label, unpaired)``: stem → file name of the PNGs in ``folder/{cloud,label}``
    and the stems found in only one of the two."""
    def pngs(sub):
        path = osp.join(folder, sub)
        names = os.listdir(path) if osp.isdir(path) else []
        return {osp.splitext(n)[0]: n for n in names if n.lower().endswith('.png')}
    cloud, label = pngs('cloud'), pngs('label')
    return cloud, label, sorted(set(cloud) ^ set(label), key=natural_key)


@DATASETS.register_module()
class RICEDataset(BaseCRDataset):
    """RICE1 (thin clouds, Google Earth) or RICE2 (Landsat-8, with masks), raw layout.

    Args:
        data_root: ``RICE_DATASET`` (or its ``RICE1`` / ``RICE2`` folder).
        version: 1 or 2.
        split: 'train', 'val', 'test' or 'trainval' (module docstring: 'val' and
            'train' partition the 8:2 training split, 'trainval' is all of it).
        split_file: 'default' (the shipped list for RICE1, the computed split for
            RICE2 and for synthetic copies), None (always compute the documented
            split from the ids on disk), or the path of a list of ids: the test ids
            for split 'test', the 8:2 training ids (``rice<v>_train.txt`` of
            tools/make_rice_split.py) for 'train', 'val' and 'trainval'.
        split_seed: seed of the computed 8:2 split.
        val_seed, val_fraction: of the carved validation split.
    """

    DATASET_NAME = 'RICE'
    OFFICIAL_PROTOCOLS = {'RICE1': 'cuhk_official', 'RICE2': 'cuhk_official'}  # §3.7
    LAYOUT = RICE_LAYOUT
    SPLITS = ('train', 'val', 'test', 'trainval')

    def __init__(self, data_root: str, version: int = 1, split: str = 'train',
                 split_file: Optional[str] = 'default', split_seed: int = RICE_SPLIT_SEED,
                 val_seed: int = VAL_SPLIT_SEED, val_fraction: float = VAL_FRACTION,
                 **kwargs):
        if version not in (1, 2):
            raise ValueError(f'RICEDataset: version must be 1 or 2, got {version!r}')
        self.version, self.split_file, self.split_seed = version, split_file, split_seed
        self.val_seed, self.val_fraction = val_seed, val_fraction
        self.DATASET_NAME = f'RICE{version}'
        super().__init__(data_root=data_root, split=split, **kwargs)

    @property
    def published_split(self) -> str:
        """The 8:2 split this split is drawn from ('train' for train / val / trainval)."""
        return 'test' if self.split == 'test' else 'train'

    @property
    def split_source(self) -> Optional[str]:
        """The list file used for this split, or None for the computed split."""
        if self.split_file == 'default':
            # A synthetic copy holds a handful of ids, never the published ones.
            path = shipped_split_file(self.version, self.published_split)
            return path if osp.isfile(path) and not self.synthetic else None
        return self.split_file

    def pairs_on_disk(self):
        root = resolve_rice_root(self.data_root, self.version)
        if root is None:
            self.layout_error(f'no RICE{self.version}/cloud folder under {self.data_root!r}')
        if not osp.isdir(osp.join(root, 'label')):
            self.layout_error(f'folder {osp.join(root, "label")!r} is missing')
        return (root, ) + scan_rice_pairs(root)

    def split_ids(self, on_disk: List[str]) -> List[str]:
        """The ids of this split; ``on_disk``: every id with a cloudy or a label image."""
        source = self.split_source
        if source is None:
            try:
                ids = make_rice_split(on_disk, self.split_seed,
                                      force_test=FIGURE_IDS[self.version])[self.published_split]
            except ValueError as err:  # a copy too small for the figure ids
                self.layout_error(f'cannot compute the 8:2 split of the {len(on_disk)} ids on '
                                  f'disk ({err}); give split_file lists')
        else:
            if not osp.isfile(source):
                self.layout_error(f'split file {source!r} does not exist')
            ids = read_id_list(source)
            if not ids:
                self.layout_error(f'split file {source!r} lists no ids (one id per line, '
                                  "e.g. '17' or '17.png'); write it with "
                                  'tools/make_rice_split.py')
            present = set(on_disk)
            absent = [i for i in ids if i not in present]
            if absent:
                self.layout_error(
                    f'{len(absent)} id(s) of the split file {source!r} have no image on '
                    f'disk, e.g. {absent[:5]}; this copy numbers its files differently. Use '
                    'split_file=None (computed 8:2 split of the ids on disk) or write lists '
                    'for it with tools/make_rice_split.py')
        return ids if self.split == 'test' else self.carve(ids, self.val_seed,
                                                           self.val_fraction)

    def load_data_list(self) -> List[dict]:
        root, cloud, label, unpaired = self.pairs_on_disk()
        on_disk = sorted(set(cloud) | set(label), key=natural_key)
        mask_dir = osp.join(root, 'mask')
        data_list, incomplete = [], []
        for sample_id in self.split_ids(on_disk):
            if sample_id not in cloud or sample_id not in label:
                where = 'label' if sample_id in cloud else 'cloud'
                incomplete.append(dict(sample_id=sample_id,
                                       reason=f'no {where} image in {osp.join(root, where)!r}'))
                continue
            info = dict(sample_id=sample_id, cloudy_path=osp.join(root, 'cloud', cloud[sample_id]),
                        gt_path=osp.join(root, 'label', label[sample_id]),
                        band_names=['R', 'G', 'B'])
            mask = osp.join(mask_dir, cloud[sample_id])
            if osp.isfile(mask):
                info['cloud_mask_path'] = mask
            data_list.append(info)
        if incomplete:
            warnings.warn(f'RICEDataset: {len(incomplete)} sample(s) of split {self.split!r} '
                          f'lack a partner file and are skipped, e.g. '
                          + '; '.join(f"{i['sample_id']}: {i['reason']}"
                                      for i in incomplete[:3]))
            self.skipped += incomplete
        return self.finish_data_list(data_list)

    @classmethod
    def check_split(cls, cfg: dict, report, deep: bool = False,
                    max_samples: Optional[int] = None, progress=None) -> None:
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
        kwargs = {k: v for k, v in cfg.items()
                  if k in ('version', 'split_file', 'split_seed', 'val_seed', 'val_fraction')}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # the unpaired files are listed above
                dataset = cls(data_root=report.data_root, split=report.split, **kwargs)
        except (DatasetLayoutError, ValueError) as err:
            report.errors.append(str(err).split('\nExpected layout')[0])
            return
        report.found = len(dataset)
        source = dataset.split_source
        report.published_note = (f'8:2 from {osp.basename(source)}' if source
                                 else '8:2 of the ids on disk')
        files = []
        for info in subsample(dataset.data_list, max_samples):
            files += [(info['cloudy_path'], png_check(3, deep)),
                      (info['gt_path'], png_check(3, deep))]
            if 'cloud_mask_path' in info:
                files.append((info['cloud_mask_path'], png_check(1, deep)))
        inspect_files(files, report, progress)
