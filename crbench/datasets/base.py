"""What every paired cloud-removal dataset shares."""
import json
import math
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional

import numpy as np
from mmengine.dataset import BaseDataset

SYNTHETIC_MARKER = 'CRBENCH_SYNTHETIC.json'

# Validation split of datasets that publish only train and test (CUHK-CR1/2, RICE1/2):
# carved from the published training split so that checkpoint selection never sees
# a test image (carve_validation_split documents the rule).
VAL_SPLIT_SEED = 0
VAL_FRACTION = 0.1


class DatasetLayoutError(FileNotFoundError):
    """The files under ``data_root`` do not have the layout the dataset reads."""


def natural_key(name: str):
    """Sort key that puts '2.png' before '10.png'."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r'(\d+)', name)]


def read_synthetic_marker(root: str) -> Optional[dict]:
    """The generator's record if ``root`` (or its parent) was written by crbench."""
    for folder in (root, osp.dirname(osp.abspath(root))):
        marker = osp.join(folder, SYNTHETIC_MARKER)
        if osp.isfile(marker):
            with open(marker) as f:
                return json.load(f)
    return None


def carve_validation_split(train_ids: Iterable[str], seed: int = VAL_SPLIT_SEED,
                           fraction: float = VAL_FRACTION) -> Dict[str, List[str]]:
    """Split a published training split into ``{'train': [...], 'val': [...]}``.

    The rule: take the ids in natural order (0, 1, 2, …, 10, …);
    n_val = floor(fraction · n + 0.5), at least 1 and at most n − 1; the val ids are
    the first n_val positions of ``numpy.random.default_rng(seed).permutation(n)``.
    The train split keeps the other ids, so train and val partition the published
    training split and the test split is never touched. CUHK-CR1 (534 published
    training pairs) gives 481 / 53, CUHK-CR2 (448) 403 / 45, RICE1 (400) 360 / 40.
    """
    ids = sorted(set(str(i) for i in train_ids), key=natural_key)
    if len(ids) < 2:
        raise ValueError(f'a validation split needs at least 2 training samples, found '
                         f'{len(ids)}')
    n_val = min(len(ids) - 1, max(1, int(math.floor(fraction * len(ids) + 0.5))))
    chosen = {ids[p] for p in np.random.default_rng(seed).permutation(len(ids))[:n_val]}
    return {'train': [i for i in ids if i not in chosen], 'val': [i for i in ids if i in chosen]}


class BaseCRDataset(BaseDataset):
    """A paired cloud-removal dataset read from its published on-disk layout.

    Subclasses set ``DATASET_NAME``, ``LAYOUT`` (shown to the user when files
    are missing) and ``SPLITS`` and implement ``load_data_list``. The dataset
    never writes into ``data_root``. Every data info carries ``synthetic``,
    taken from the marker file that ``tools/make_synthetic_data.py`` writes.

    Args:
        data_root: the dataset's root folder (see ``LAYOUT``).
        split: one of ``SPLITS``.
        pipeline: transforms ending in ``PackCRInputs``.
        max_samples: keep only the first N samples (quick runs, demos).
    """

    DATASET_NAME = 'dataset'
    #: The dataset names results are recorded under, each with the metric protocol its
    #: papers used (the leaderboard's official protocol; docs/datasets.md), in display order.
    OFFICIAL_PROTOCOLS: dict = {}
    LAYOUT = ''
    SPLITS = ('train', 'test')

    def __init__(self, data_root: str, split: str = 'train', pipeline=(),
                 max_samples: Optional[int] = None, test_mode: bool = None,
                 exclude_ids: Iterable[str] = (), **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of {self.SPLITS}, '
                             f'got {split!r}')
        self.split = split
        self.max_samples = max_samples
        self.exclude_ids = [str(i) for i in exclude_ids]
        # Samples of the split that are not read, each dict(sample_id, reason): incomplete
        # on disk (a missing partner file) or excluded (``exclude_ids``, e.g. damaged files
        # under ``tools/test.py --allow-incomplete``). Results record them.
        self.skipped: List[dict] = []
        data_root = osp.expanduser(str(data_root))
        if not osp.isdir(data_root):
            self.layout_error(f'data_root {data_root!r} does not exist')
        self.synthetic_record = read_synthetic_marker(data_root)
        if test_mode is None:
            test_mode = split != 'train'
        super().__init__(data_root=data_root, pipeline=list(pipeline), test_mode=test_mode,
                         serialize_data=False, **kwargs)

    @property
    def synthetic(self) -> bool:
        return self.synthetic_record is not None

    @classmethod
    def check_split(cls, cfg: dict, report, deep: bool = False,
                    max_samples: Optional[int] = None, progress=None) -> None:
        """Check one split of a user's copy and fill ``report``; never writes anything.

        ``cfg`` is the dataset config without its pipeline (``data_root``,
        ``split``, ...); ``report`` is a :class:`crbench.datasets.check.SplitReport`
        whose ``dataset``, ``found``, ``published``, ``errors``, ``warnings`` and
        ``files_checked`` the dataset sets, reusing its own scan of the layout.
        ``deep`` decodes every pixel; ``max_samples`` limits the inspected files
        (counting and pairing always cover all); ``progress()`` is called per file.
        ``tools/check_dataset.py`` calls it for every split a config uses.
        """
        report.errors.append(f'{cls.__name__} does not implement check_split, so its files '
                             'cannot be checked; build the dataset instead to see whether '
                             'it loads')

    def layout_error(self, problem: str):
        raise DatasetLayoutError(
            f'{type(self).__name__} ({self.DATASET_NAME}, split {self.split!r}): {problem}.\n'
            f'Expected layout:\n{self.LAYOUT}\nPoint data_root at the folder marked above '
            '(tools/train.py and tools/test.py take `--data-root /path/to/it`), or write a '
            'synthetic copy with `python tools/make_synthetic_data.py --dataset '
            f'<name> --out <dir>`.')

    def list_files(self, folder: str, suffixes=('.png',)) -> List[str]:
        """Sorted (natural order) file names with one of ``suffixes`` in ``folder``."""
        if not osp.isdir(folder):
            self.layout_error(f'folder {folder!r} is missing')
        names = [n for n in os.listdir(folder) if n.lower().endswith(tuple(suffixes))]
        return sorted(names, key=natural_key)

    def carve(self, pool: Iterable[str], seed: int = VAL_SPLIT_SEED,
              fraction: float = VAL_FRACTION) -> List[str]:
        """The ids of split 'train', 'val' or 'trainval' drawn from ``pool``, the
        published training split (``carve_validation_split``; 'trainval' is all of it)."""
        pool = sorted(set(str(i) for i in pool), key=natural_key)
        if self.split == 'trainval':
            return pool
        try:
            return carve_validation_split(pool, seed, fraction)[self.split]
        except ValueError as err:
            self.layout_error(f'cannot carve a validation split from the training split: {err}')

    def finish_data_list(self, data_list: List[dict]) -> List[dict]:
        """Common last step: flag synthetic data, apply ``max_samples``, refuse empty."""
        found = len(data_list)
        if self.exclude_ids:
            excluded = set(self.exclude_ids)
            self.skipped += [dict(sample_id=str(i['sample_id']), reason='excluded (exclude_ids)')
                             for i in data_list if str(i['sample_id']) in excluded]
            data_list = [i for i in data_list if str(i['sample_id']) not in excluded]
        if not data_list:
            self.layout_error(f'no samples were found under {self.data_root!r}' if not found else
                              f'all {found} samples under {self.data_root!r} are excluded '
                              '(exclude_ids)')
        for info in data_list:
            info.setdefault('dataset', self.DATASET_NAME)
            info['synthetic'] = self.synthetic
        if self.max_samples is not None:
            data_list = data_list[:self.max_samples]
        return data_list
