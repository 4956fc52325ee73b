"""CUHK-CR1 (thin cloud) and CUHK-CR2 (thick cloud), docs/datasets.md §2."""
import os
import os.path as osp
from typing import Dict, List, Optional

from crbench.registry import DATASETS
from .base import (VAL_FRACTION, VAL_SPLIT_SEED, BaseCRDataset, carve_validation_split,
                   natural_key)
from .file_checks import inspect_files, png_check, subsample

CUHK_LAYOUT = """\
  C-CUHK/
  ├── CUHK-CR1/                        <- data_root for CUHK-CR1
  │   ├── train/{cloud,label}/<n>.png  RGB, 512×512, uint8
  │   └── test/{cloud,label}/<n>.png
  ├── CUHK-CR2/                        <- data_root for CUHK-CR2
  └── nir/                             <- nir_root defaults to C-CUHK/nir/<data_root name>
      ├── CUHK-CR1/{train,test}/{cloud,label}/<n>.png   NIR (first channel used)
      └── CUHK-CR2/...
  (the archive's top folder is 'C-CUHK - 副本': rename it to C-CUHK)"""

# Samples per split of the published release (docs/datasets.md §2).
PUBLISHED_COUNTS = {'CUHK-CR1': {'train': 534, 'test': 134},
                    'CUHK-CR2': {'train': 448, 'test': 111}}


def default_nir_root(data_root: str) -> str:
    """``C-CUHK/nir/<name>`` for ``data_root`` = ``C-CUHK/<name>``."""
    data_root = data_root.rstrip('/')
    return osp.join(osp.dirname(data_root), 'nir', osp.basename(data_root))


def split_folders(data_root: str, split: str, nir_root: Optional[str] = None,
                  use_nir: bool = True) -> Dict[str, str]:
    """The folders one split reads: ``cloud``, ``label`` and, with NIR, ``nir_cloud``,
    ``nir_label`` (RGB and NIR images of one sample share a file name)."""
    folders = {'cloud': osp.join(data_root, split, 'cloud'),
               'label': osp.join(data_root, split, 'label')}
    if use_nir:
        nir_root = nir_root or default_nir_root(data_root)
        folders['nir_cloud'] = osp.join(nir_root, split, 'cloud')
        folders['nir_label'] = osp.join(nir_root, split, 'label')
    return folders


def parent_folder_hint(data_root: str) -> str:
    """A hint when ``data_root`` is the C-CUHK folder instead of one dataset inside it."""
    inside = [n for n in PUBLISHED_COUNTS if osp.isdir(osp.join(data_root, n))]
    if not inside:
        return ''
    return (f'; {data_root!r} holds {", ".join(inside)}: pass that folder, e.g. '
            f'--data-root {osp.join(data_root, inside[-1])}')


def list_pngs(folder: str) -> List[str]:
    """PNG file names in ``folder``, natural order."""
    return sorted((n for n in os.listdir(folder) if n.lower().endswith('.png')), key=natural_key)


def cuhk_folder(split: str) -> str:
    """The folder of the download that holds ``split`` (val is carved from train)."""
    return 'test' if split == 'test' else 'train'


@DATASETS.register_module()
class CUHKCRDataset(BaseCRDataset):
    """CUHK-CR1 / CUHK-CR2 as downloaded: RGB and NIR in two trees.

    Samples are paired by file name across all four folders of a split
    (cloud/label × RGB/NIR); any name missing from one of them is an error
    that lists it. (EMRDM pairs NIR by sorted position instead, which silently
    mis-pairs a tree with one file missing; pairing by name gives the same
    samples on a complete download and refuses an incomplete one.)

    Args:
        data_root: ``.../C-CUHK/CUHK-CR1`` or ``.../C-CUHK/CUHK-CR2``.
        split: 'train', 'val', 'test' or 'trainval'. Only train and test are published;
            'val' is carved from the published train folder (``carve_validation_split``
            in crbench/datasets/base.py: 10 %, seed 0) and 'train' is the rest of it;
            'trainval' is the whole train folder (what the papers trained on); 'test'
            is the published test folder, untouched.
        nir_root: the matching NIR tree; defaults to ``<parent>/nir/<name>``.
        use_nir: 4 bands [R, G, B, NIR] (the papers) or RGB only.
        val_seed, val_fraction: of the carved validation split.
    """

    DATASET_NAME = 'CUHK-CR'
    OFFICIAL_PROTOCOLS = {'CUHK-CR1': 'cuhk_official', 'CUHK-CR2': 'cuhk_official'}  # §2.8
    LAYOUT = CUHK_LAYOUT
    SPLITS = ('train', 'val', 'test', 'trainval')

    def __init__(self, data_root: str, split: str = 'train', nir_root: Optional[str] = None,
                 use_nir: bool = True, dataset_name: Optional[str] = None,
                 val_seed: int = VAL_SPLIT_SEED, val_fraction: float = VAL_FRACTION, **kwargs):
        data_root = osp.expanduser(str(data_root)).rstrip('/')
        self.use_nir = use_nir
        self.val_seed, self.val_fraction = val_seed, val_fraction
        self.nir_root = nir_root or default_nir_root(data_root)
        if dataset_name is not None:
            self.DATASET_NAME = dataset_name
        super().__init__(data_root=data_root, split=split, **kwargs)

    @property
    def folder(self) -> str:
        """The published split folder this split reads ('train' or 'test')."""
        return cuhk_folder(self.split)

    def load_data_list(self) -> List[dict]:
        folders = split_folders(self.data_root, self.folder, self.nir_root, self.use_nir)
        for key in ('cloud', 'label'):  # the RGB tree first: it is what data_root names
            if not osp.isdir(folders[key]):
                self.layout_error(f'folder {folders[key]!r} is missing'
                                  + parent_folder_hint(self.data_root))
        if self.use_nir and not osp.isdir(self.nir_root):
            self.layout_error(f'the NIR tree {self.nir_root!r} is missing (set nir_root, '
                              'or use_nir=False for RGB only)')
        names = {key: self.list_files(folder) for key, folder in folders.items()}
        reference = names['label']
        for key, listed in names.items():
            missing = sorted(set(reference) - set(listed))
            extra = sorted(set(listed) - set(reference))
            if missing or extra:
                self.layout_error(
                    f'{folders[key]!r} and {folders["label"]!r} do not hold the same file '
                    f'names: missing there {missing[:5]}{"…" if len(missing) > 5 else ""}, '
                    f'extra there {extra[:5]}{"…" if len(extra) > 5 else ""}')
        if self.split != 'test':
            keep = set(self.carve((osp.splitext(n)[0] for n in reference), self.val_seed,
                                  self.val_fraction))
            reference = [n for n in reference if osp.splitext(n)[0] in keep]
        data_list = []
        for name in reference:
            info = dict(sample_id=osp.splitext(name)[0],
                        cloudy_path=osp.join(folders['cloud'], name),
                        gt_path=osp.join(folders['label'], name),
                        band_names=['R', 'G', 'B', 'NIR'] if self.use_nir else ['R', 'G', 'B'])
            if self.use_nir:
                info['cloudy_nir_path'] = osp.join(folders['nir_cloud'], name)
                info['gt_nir_path'] = osp.join(folders['nir_label'], name)
            data_list.append(info)
        return self.finish_data_list(data_list)

    @classmethod
    def check_split(cls, cfg: dict, report, deep: bool = False,
                    max_samples: Optional[int] = None, progress=None) -> None:
        root = report.data_root.rstrip('/')
        name = cfg.get('dataset_name') or osp.basename(root)
        report.dataset = name
        report.published = PUBLISHED_COUNTS.get(name, {}).get(cuhk_folder(report.split))
        if report.split in ('train', 'val'):
            report.published, report.published_note = None, 'carved from the published train'
        folders = split_folders(root, cuhk_folder(report.split), cfg.get('nir_root'),
                                cfg.get('use_nir', True))
        names = {}
        for key, folder in folders.items():
            if not osp.isdir(folder):
                report.errors.append(f'folder {folder!r} is missing')
                continue
            names[key] = set(list_pngs(folder))
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
            absent = [folders[k] for k, listed in names.items() if n not in listed]
            if absent:
                report.errors.append(f'missing partner: {n} has no file in {absent}')
        channels = {'cloud': 3, 'label': 3, 'nir_cloud': 1, 'nir_label': 1}
        inspect_files([(osp.join(folders[k], n), png_check(channels[k], deep))
                       for n in subsample(complete, max_samples) for k in folders],
                      report, progress)
