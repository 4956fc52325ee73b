"""SEN12MS-CR: Sentinel-1 SAR + cloudy / clear Sentinel-2 triplets (docs/datasets.md §4).

Pairing. The three trees are walked and every file name is parsed into
(ROI, season, scene, patch); a triplet is the three files with the same key.
No path is derived from another by string replacement (EMRDM replaces '/s1' and
'_s1' in the full path, which breaks on a root that contains those substrings).
Triplets with a missing partner are skipped with a warning (EMRDM skips them
silently; ``tools/check_dataset.py`` lists them).

Splits. The scene lists below are the ones hard-coded in the SEN12MS-CR
reference loader that UnCRtainTS and EMRDM use (region 'all'): 155 train, 10 val
and 10 test scenes. Two membership rules are offered:

* ``split_mode='exact'`` (default): a patch belongs to a split when its
  (ROI, season, scene) is in the split's list. Leak-free; scenes on disk that are
  in no list are not used. On a complete copy: 107,143 / 7,176 / 7,899.
* ``split_mode='legacy_substring'``: EMRDM's rule: a patch belongs to a split when
  any list entry ``ROIsXXXX_<season>_s1/s1_<scene>`` is a substring of its S1
  path. Train entry ``s1_1`` then also claims ``s1_10``…``s1_19``, ``s1_1xx``,
  among them test scenes (spring 106, 123, 140; summer 73, 119; fall 139) and
  val scenes (spring 17, fall 65, winter 84). This reproduces the published
  114,050 train patches (val and test are unchanged). Use it only to reproduce
  EMRDM; its train split overlaps val and test. The test is made on the path
  relative to ``data_root`` ('ROIs1158_spring_s1/s1_106/…'), so unlike EMRDM the
  root itself can never match.

Values (applied by the pipeline, see ``configs/_base_/datasets/sen12mscr.py``,
EMRDM ``rescale: True`` / method 'default', §4.6):

* SAR (VV, VH, dB): clip to [-25, 0], NaN → -25 dB, then → [-1, 1]
  (so a NaN pixel becomes -1, as EMRDM's NaN → 0 in [0, 1]).
* S2 (13 bands, reflectance ×10⁴): clip to [0, 10000], NaN → 0, then → [-1, 1].

Inputs ``cloudy`` (13 bands) and ``sar`` (2 bands, VV, VH) are packed with
``PackCRInputs(input_keys=('cloudy', 'sar'))``; EMRDM's 15-band condition is
``cat([sar, cloudy])``. The target ``gt`` is the 13-band clear S2. ``crs``
('EPSG:n' or WKT) and ``transform`` (6-tuple a, b, c, d, e, f of the affine) of
the clear S2 file go to the data sample's metainfo.
"""
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Tuple

from crbench.registry import DATASETS
from .base import BaseCRDataset, natural_key
from .file_checks import inspect_files, subsample
from .transforms.geotiff import geotiff_header, read_geotiff

SEN12MSCR_LAYOUT = """\
  SEN12MSCR/                         <- data_root (the 12 archives extracted here)
  ├── ROIs1158_spring_s1/s1_<scene>/ROIs1158_spring_s1_<scene>_p<patch>.tif
  │       S1 SAR: 2 bands (VV, VH), float32 dB
  ├── ROIs1158_spring_s2/s2_<scene>/ROIs1158_spring_s2_<scene>_p<patch>.tif
  │       S2 clear: 13 bands (B1…B12), uint16
  ├── ROIs1158_spring_s2_cloudy/s2_cloudy_<scene>/
  │       ROIs1158_spring_s2_cloudy_<scene>_p<patch>.tif   S2 cloudy: as S2 clear
  └── ROIs1868_summer_*, ROIs1970_fall_*, ROIs2017_winter_*  (same structure)
  (archives: ROIs{1158_spring,1868_summer,1970_fall,2017_winter}_{s1,s2,s2_cloudy}.tar.gz)"""

MODALITIES = ('s1', 's2', 's2_cloudy')
ROI_SEASONS = ('ROIs1158_spring', 'ROIs1868_summer', 'ROIs1970_fall', 'ROIs2017_winter')
S1_BANDS = ('VV', 'VH')
S2_BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12')
SPLIT_MODES = ('exact', 'legacy_substring')

# Scene numbers (the <scene> of s1_<scene>) per split, as in the reference loader.
SCENE_SPLITS: Dict[str, Dict[str, Tuple[int, ...]]] = {
    'train': {
        'ROIs1158_spring': (1, 6, 8, 9, 15, 21, 26, 39, 40, 45, 58, 63, 66, 75, 77, 97, 100, 101,
                            109, 110, 113, 115, 117, 119, 120, 121, 124, 126, 128, 132, 134, 141,
                            142, 145, 147),
        'ROIs1868_summer': (4, 7, 11, 15, 25, 27, 31, 36, 40, 42, 43, 47, 55, 56, 72, 76, 86, 87,
                            89, 90, 93, 95, 100, 101, 102, 113, 114, 115, 120, 121, 123, 124, 125,
                            126, 132, 133, 135, 137, 139, 140, 143, 146, 147),
        'ROIs1970_fall': (1, 3, 4, 6, 11, 14, 19, 22, 26, 27, 28, 30, 31, 33, 35, 37, 39, 40, 41,
                          42, 57, 64, 71, 77, 81, 82, 83, 85, 88, 91, 93, 100, 104, 105, 107, 109,
                          110, 112, 114, 116, 119, 120, 122, 125, 128, 131, 133, 134, 135, 136,
                          141, 142, 144, 147, 148, 149),
        'ROIs2017_winter': (8, 21, 25, 42, 47, 49, 55, 59, 61, 62, 64, 68, 75, 81, 94, 102, 104,
                            112, 116, 135, 146),
    },
    'val': {
        'ROIs1158_spring': (17,),
        'ROIs1868_summer': (17, 19, 80, 127),
        'ROIs1970_fall': (65,),
        'ROIs2017_winter': (22, 84, 107, 130),
    },
    'test': {
        'ROIs1158_spring': (31, 44, 106, 123, 140),
        'ROIs1868_summer': (73, 119),
        'ROIs1970_fall': (139,),
        'ROIs2017_winter': (63, 108),
    },
}

# Patches per split on a complete copy (122,218 triplets). 'legacy_substring' train
# double-counts 6,907 val/test patches; see the module docstring.
PUBLISHED_COUNTS = {
    'exact': {'train': 107143, 'val': 7176, 'test': 7899},
    'legacy_substring': {'train': 114050, 'val': 7176, 'test': 7899},
}

SEASON_DIR_RE = re.compile(r'^(ROIs\d+)_([a-z]+)_(s1|s2_cloudy|s2)$')
SCENE_DIR_RE = re.compile(r'^(s1|s2_cloudy|s2)_(\d+)$')
FILE_RE = re.compile(r'^(ROIs\d+)_([a-z]+)_(s1|s2_cloudy|s2)_(\d+)_p(\d+)\.tif$')


@lru_cache(maxsize=None)
def split_entries(split: str) -> Tuple[str, ...]:
    """The reference loader's list entries, e.g. 'ROIs1158_spring_s1/s1_106'."""
    return tuple(f'{roi_season}_s1/s1_{scene}'
                 for roi_season, scenes in SCENE_SPLITS[split].items() for scene in scenes)


def scene_in_split(roi_season: str, scene: str, split: str, split_mode: str) -> bool:
    """Whether scene ``scene`` (its digits as written in the folder name) is in ``split``."""
    if split_mode == 'exact':
        return int(scene) in SCENE_SPLITS[split].get(roi_season, ())
    if split_mode == 'legacy_substring':
        # Every S1 path of the scene contains '<roi_season>_s1/s1_<scene>/'; an entry
        # (which holds exactly one '/') can only match across that first '/'.
        s1_dir = f'{roi_season}_s1/s1_{scene}/'
        return any(entry in s1_dir for entry in split_entries(split))
    raise ValueError(f'split_mode must be one of {SPLIT_MODES}, got {split_mode!r}')


Key = Tuple[str, str, int, int]  # roi, season, scene, patch


@dataclass
class SEN12MSCRIndex:
    """What a walk of the three trees found."""
    triplets: Dict[Key, Dict[str, str]] = field(default_factory=dict)
    unparsed: List[str] = field(default_factory=list)  # files/folders that do not fit the layout

    def complete(self) -> List[Key]:
        keys = [k for k, v in self.triplets.items() if len(v) == len(MODALITIES)]
        return sorted(keys, key=lambda k: (natural_key(k[0]), k[1], k[2], k[3]))

    def incomplete(self) -> List[Tuple[Key, List[str]]]:
        out = [(k, [m for m in MODALITIES if m not in v]) for k, v in self.triplets.items()
               if len(v) != len(MODALITIES)]
        return sorted(out, key=lambda kv: (natural_key(kv[0][0]), kv[0][1], kv[0][2], kv[0][3]))


def scan_sen12mscr(root: str,
                   scene_filter: Optional[Callable[[str, str], bool]] = None) -> SEN12MSCRIndex:
    """Walk ``root`` (read-only) and group the files into triplets by parsed key.

    ``scene_filter(roi_season, scene_digits)`` limits the walk to some scenes.
    Names that do not follow the layout are listed in ``unparsed``; a file whose
    name disagrees with its folders (another scene or modality) too.
    """
    index = SEN12MSCRIndex()
    for season_dir in sorted(os.listdir(root), key=natural_key):
        season_path = osp.join(root, season_dir)
        match = SEASON_DIR_RE.match(season_dir)
        if not match or not osp.isdir(season_path):
            continue  # other files and folders at the root (e.g. the archives) are fine
        roi, season, modality = match.groups()
        roi_season = f'{roi}_{season}'
        for scene_dir in sorted(os.listdir(season_path), key=natural_key):
            scene_path = osp.join(season_path, scene_dir)
            if not osp.isdir(scene_path):
                continue
            scene_match = SCENE_DIR_RE.match(scene_dir)
            if not scene_match or scene_match.group(1) != modality:
                index.unparsed.append(osp.join(season_dir, scene_dir))
                continue
            scene = scene_match.group(2)
            if scene_filter is not None and not scene_filter(roi_season, scene):
                continue
            with os.scandir(scene_path) as entries:
                names = [e.name for e in entries if e.is_file()]
            for name in names:
                file_match = FILE_RE.match(name)
                if not file_match:
                    if not name.endswith(('.aux.xml', '.ovr')):
                        index.unparsed.append(osp.join(season_dir, scene_dir, name))
                    continue
                f_roi, f_season, f_mod, f_scene, patch = file_match.groups()
                if (f_roi, f_season, f_mod, f_scene) != (roi, season, modality, scene):
                    index.unparsed.append(osp.join(season_dir, scene_dir, name))
                    continue
                key = (roi, season, int(scene), int(patch))
                index.triplets.setdefault(key, {})[modality] = osp.join(scene_path, name)
    return index


def key_name(key: Key) -> str:
    roi, season, scene, patch = key
    return f'{roi}_{season} scene {scene} patch p{patch}'


def has_season_folders(root: str) -> bool:
    """Whether ``root`` holds at least one ``ROIs*_<season>_{s1,s2,s2_cloudy}`` folder."""
    return any(SEASON_DIR_RE.match(n) for n in os.listdir(root))


def describe_missing(key: Key, missing: List[str]) -> str:
    return f'{key_name(key)}: no {"/".join(missing)} file'


@DATASETS.register_module()
class SEN12MSCRDataset(BaseCRDataset):
    """SEN12MS-CR read from the extracted archives (see the module docstring).

    Args:
        data_root: the folder holding the ``ROIs*_{s1,s2,s2_cloudy}`` folders.
        split: 'train', 'val' or 'test'.
        split_mode: 'exact' (default, leak-free) or 'legacy_substring' (EMRDM).
        missing: what to do with an incomplete triplet: 'skip' (warn, as EMRDM
            drops it) or 'error'.
    """

    DATASET_NAME = 'SEN12MS-CR'
    OFFICIAL_PROTOCOLS = {'SEN12MS-CR': 'sen12mscr_official'}  # §4.8
    LAYOUT = SEN12MSCR_LAYOUT
    SPLITS = ('train', 'val', 'test')

    def __init__(self, data_root: str, split: str = 'train', split_mode: str = 'exact',
                 missing: str = 'skip', **kwargs):
        if split_mode not in SPLIT_MODES:
            raise ValueError(f'SEN12MSCRDataset: split_mode must be one of {SPLIT_MODES}, got '
                             f'{split_mode!r}')
        if missing not in ('skip', 'error'):
            raise ValueError(f"SEN12MSCRDataset: missing must be 'skip' or 'error', got "
                             f'{missing!r}')
        self.split_mode, self.missing = split_mode, missing
        super().__init__(data_root=data_root, split=split, **kwargs)

    def build_index(self) -> SEN12MSCRIndex:
        def in_split(roi_season, scene):
            return scene_in_split(roi_season, scene, self.split, self.split_mode)
        if not has_season_folders(self.data_root):
            self.layout_error(f'no ROIs*_{{s1,s2,s2_cloudy}} folder in {self.data_root!r}')
        return scan_sen12mscr(self.data_root, in_split)

    def load_data_list(self) -> List[dict]:
        index = self.build_index()
        incomplete = index.incomplete()
        if incomplete:
            lines = [describe_missing(k, m) for k, m in incomplete[:5]]
            message = (f'{len(incomplete)} patch(es) of split {self.split!r} under '
                       f'{self.data_root!r} lack a partner file, e.g. ' + '; '.join(lines)
                       + ' (run tools/check_dataset.py for the full list)')
            if self.missing == 'error':
                self.layout_error(message)
            warnings.warn(f'SEN12MSCRDataset: skipping {message}')
            self.skipped += [dict(sample_id=f'{k[0]}_{k[1]}_{k[2]}_p{k[3]}',
                                  reason=describe_missing(k, m)) for k, m in incomplete]
        data_list = []
        for key in index.complete():
            roi, season, scene, patch = key
            paths = index.triplets[key]
            data_list.append(dict(
                sample_id=f'{roi}_{season}_{scene}_p{patch}', roi=roi, season=season,
                scene=scene, patch=patch, sar_path=paths['s1'], cloudy_path=paths['s2_cloudy'],
                gt_path=paths['s2'], band_names=list(S2_BANDS), sar_band_names=list(S1_BANDS)))
        return self.finish_data_list(data_list)

    # Bands and dtype of each file of a triplet, as released.
    FILE_SPECS = {'s1': (2, 'float32'), 's2': (13, 'uint16'), 's2_cloudy': (13, 'uint16')}

    @classmethod
    def check_split(cls, cfg: dict, report, deep: bool = False,
                    max_samples: Optional[int] = None, progress=None) -> None:
        mode = cfg.get('split_mode', 'exact')
        if mode not in SPLIT_MODES:
            report.errors.append(f'split_mode {mode!r} is not one of {SPLIT_MODES}')
            return
        report.dataset = cls.DATASET_NAME
        report.published = PUBLISHED_COUNTS[mode].get(report.split)
        report.published_note = mode
        root = report.data_root
        if not has_season_folders(root):
            report.errors.append(f'no ROIs*_{{s1,s2,s2_cloudy}} folder in {root!r}')
            return
        index = scan_sen12mscr(root, lambda rs, sc: scene_in_split(rs, sc, report.split, mode))
        complete = index.complete()
        report.found = len(complete)
        report.errors.extend(f'missing partner: {describe_missing(k, m)}'
                             for k, m in index.incomplete())
        report.warnings.extend(f'not part of the layout, ignored: {osp.join(root, p)}'
                               for p in index.unparsed)
        for key in subsample(complete, max_samples):
            headers = {}

            def check(path, mod):
                count, dtype = cls.FILE_SPECS[mod]
                headers[mod] = (read_geotiff(path, count, dtype)[1] if deep
                                else geotiff_header(path, count, dtype))

            inspect_files([(index.triplets[key][mod], lambda path, mod=mod: check(path, mod))
                           for mod in cls.FILE_SPECS], report, progress)
            grids = {(h['crs'], tuple(round(v, 6) for v in h['transform']), h['height'],
                      h['width']) for h in headers.values()}
            if len(grids) > 1:
                report.warnings.append(f'{key_name(key)}: the three files are not '
                                       'on the same grid (CRS / transform / size differ)')
