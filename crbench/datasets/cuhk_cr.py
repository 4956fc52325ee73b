"""CUHK-CR1 (thin cloud) and CUHK-CR2 (thick cloud), docs/datasets.md §2."""
import os.path as osp
from typing import List, Optional

from crbench.registry import DATASETS
from .base import VAL_FRACTION, VAL_SPLIT_SEED, BaseCRDataset

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
        self.nir_root = nir_root or osp.join(osp.dirname(data_root), 'nir',
                                             osp.basename(data_root))
        if dataset_name is not None:
            self.DATASET_NAME = dataset_name
        super().__init__(data_root=data_root, split=split, **kwargs)

    @property
    def folder(self) -> str:
        """The published split folder this split reads ('train' or 'test')."""
        return cuhk_folder(self.split)

    def load_data_list(self) -> List[dict]:
        folders = {'cloud': osp.join(self.data_root, self.folder, 'cloud'),
                   'label': osp.join(self.data_root, self.folder, 'label')}
        if self.use_nir:
            if not osp.isdir(self.nir_root):
                self.layout_error(f'the NIR tree {self.nir_root!r} is missing (set nir_root, '
                                  'or use_nir=False for RGB only)')
            folders['nir_cloud'] = osp.join(self.nir_root, self.folder, 'cloud')
            folders['nir_label'] = osp.join(self.nir_root, self.folder, 'label')
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
