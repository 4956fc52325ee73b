"""SEN12MS-CR: synthetic twin through the dataset, split modes, NaN, errors, read-only root."""
import os
import os.path as osp
import stat
import warnings

import numpy as np
import pytest
import rasterio
import torch
from mmengine.config import Config

from crbench.datasets import DatasetLayoutError, SEN12MSCRDataset
from crbench.datasets.sen12mscr import SCENE_SPLITS, scene_in_split, split_entries
from crbench.datasets.synthetic import write_sen12mscr
from crbench.datasets.transforms import ImageReadError
from crbench.setup_env import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 32


def base_cfg():
    return Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/sen12mscr.py'))


def snapshot(root):
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = osp.join(folder, name)
            st = os.stat(path)
            out[osp.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    register_all_modules()
    # '_s1' and '/s1' in the root path: EMRDM's string replacement would break here.
    out = tmp_path_factory.mktemp('data_s1') / 's1_root'
    return write_sen12mscr(str(out), size=SIZE, nan_fraction=0.05, seed=3)


def build(root, split='train', pipeline=None, **kwargs):
    pipeline = base_cfg().train_pipeline if pipeline is None else pipeline
    return SEN12MSCRDataset(data_root=root, split=split, pipeline=pipeline, **kwargs)


def scenes(dataset):
    return {(i['roi'], i['scene']) for i in dataset.data_list}


def test_round_trip_shapes_ranges_georeference(root):
    dataset = build(root, 'test')
    assert len(dataset) == 6 and dataset.synthetic
    sample = dataset[0]
    cloudy, sar = sample['inputs']['cloudy'], sample['inputs']['sar']
    gt = sample['data_samples'].gt
    assert cloudy.shape == (13, SIZE, SIZE) and gt.shape == (13, SIZE, SIZE)
    assert sar.shape == (2, SIZE, SIZE)
    for t in (cloudy, sar, gt):
        assert t.dtype == torch.float32 and t.min() >= -1 and t.max() <= 1
        assert not t.isnan().any()
    meta = sample['data_samples'].metainfo
    with rasterio.open(meta['gt_path']) as src:
        assert meta['crs'] == f'EPSG:{src.crs.to_epsg()}' and meta['crs'].startswith('EPSG:326')
        assert meta['transform'] == tuple(src.transform)[:6]
        assert src.transform.a == 10 and src.transform.e == -10
    assert len(meta['transform']) == 6
    assert meta['band_names'][0] == 'B1' and len(meta['band_names']) == 13
    assert meta['sar_path'].endswith('.tif') and '_s1_' in osp.basename(meta['sar_path'])
    assert meta['synthetic'] is True and meta['dataset'] == 'SEN12MS-CR'
    # The cloudy image is brighter than the clear one (clouds were composited).
    assert cloudy.mean() > gt.mean()


def test_scaling_clipping_and_nan(root):
    dataset = build(root, 'train')
    info = dataset.get_data_info(0)
    with rasterio.open(info['sar_path']) as src:
        raw_sar = np.moveaxis(src.read(), 0, -1)
    with rasterio.open(info['cloudy_path']) as src:
        raw_cloudy = np.moveaxis(src.read(), 0, -1).astype(np.float32)
    assert np.isnan(raw_sar).any(), 'the writer was asked for NaN pixels'
    assert (raw_cloudy > 10000).any(), 'thick cloud cores exceed 10,000'
    sample = dataset[0]
    sar = sample['inputs']['sar'].numpy().transpose(1, 2, 0)
    expected = (np.nan_to_num(np.clip(raw_sar, -25, 0), nan=-25.0) + 25) / 25
    np.testing.assert_allclose(sar, expected * 2 - 1, atol=1e-6)
    assert np.all(sar[np.isnan(raw_sar)] == -1.0), 'NaN SAR must become -25 dB = -1'
    cloudy = sample['inputs']['cloudy'].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(cloudy, np.clip(raw_cloudy, 0, 10000) / 5000 - 1, atol=1e-6)
    assert cloudy.max() == 1.0


def test_exact_vs_legacy_substring_membership(root):
    exact = {s: scenes(build(root, s)) for s in ('train', 'val', 'test')}
    legacy = {s: scenes(build(root, s, split_mode='legacy_substring'))
              for s in ('train', 'val', 'test')}
    assert exact['train'] == {('ROIs1158', 1), ('ROIs1868', 4)}
    assert exact['val'] == {('ROIs1158', 17), ('ROIs1868', 19)}
    assert exact['test'] == {('ROIs1158', 31), ('ROIs1158', 106), ('ROIs2017', 63)}
    assert not (exact['train'] & exact['test']) and not (exact['train'] & exact['val'])
    # Train scene 1 claims 10 (listed nowhere), 17 (val) and 106 (test) by substring.
    assert legacy['train'] == exact['train'] | {('ROIs1158', 10), ('ROIs1158', 17),
                                                ('ROIs1158', 106)}
    assert legacy['val'] == exact['val'] and legacy['test'] == exact['test']
    assert len(build(root, 'train', split_mode='legacy_substring')) == 10


def test_published_lists_and_leak():
    sizes = {s: sum(len(v) for v in SCENE_SPLITS[s].values()) for s in SCENE_SPLITS}
    assert sizes == {'train': 155, 'val': 10, 'test': 10}
    assert len(set(split_entries('train'))) == 155
    listed = [(rs, str(sc)) for split in SCENE_SPLITS for rs, v in SCENE_SPLITS[split].items()
              for sc in v]
    leaked = {(rs, int(sc)) for rs, sc in listed
              if scene_in_split(rs, sc, 'train', 'legacy_substring')
              and not scene_in_split(rs, sc, 'train', 'exact')}
    # docs/datasets.md §4.4: 6 test and 3 val scenes leak into train.
    assert leaked == {('ROIs1158_spring', 106), ('ROIs1158_spring', 123),
                      ('ROIs1158_spring', 140), ('ROIs1868_summer', 73),
                      ('ROIs1868_summer', 119), ('ROIs1970_fall', 139),
                      ('ROIs1158_spring', 17), ('ROIs1970_fall', 65),
                      ('ROIs2017_winter', 84)}
    for split in ('val', 'test'):  # val and test are not enlarged
        grown = {(rs, sc) for rs, sc in listed
                 if scene_in_split(rs, sc, split, 'legacy_substring')
                 != scene_in_split(rs, sc, split, 'exact')}
        assert not grown
    with pytest.raises(ValueError, match='split_mode'):
        SEN12MSCRDataset(data_root='.', split_mode='substring')


def test_missing_partner_and_bad_files(tmp_path):
    root = write_sen12mscr(str(tmp_path), scenes={'ROIs1158_spring': (31, 44)},
                           patches_per_scene=2, size=16)
    cloudy_dir = osp.join(root, 'ROIs1158_spring_s2_cloudy', 's2_cloudy_31')
    os.remove(osp.join(cloudy_dir, sorted(os.listdir(cloudy_dir))[0]))
    with pytest.warns(UserWarning, match=r'1 patch\(es\).*scene 31.*no s2_cloudy'):
        dataset = build(root, 'test')
    assert len(dataset) == 3
    with pytest.raises(DatasetLayoutError, match='lack a partner'):
        build(root, 'test', missing='error')
    # A 3-band S2 and a float32 S2 are refused with the file's name.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dataset = build(root, 'test')
    for index, (count, dtype, match) in enumerate(((3, 'uint16', '3 band'),
                                                  (13, 'float32', 'float32 but uint16'))):
        path = dataset.get_data_info(index)['gt_path']
        with rasterio.open(path) as src:
            profile = src.profile
        profile.update(count=count, dtype=dtype)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(np.zeros((count, 16, 16), dtype=dtype))
        with pytest.raises(ImageReadError, match=match) as err:
            dataset[index]
        assert osp.basename(path) in str(err.value)


def test_wrong_root_is_explained(tmp_path):
    with pytest.raises(DatasetLayoutError, match='ROIs'):
        SEN12MSCRDataset(data_root=str(tmp_path))


def test_read_only_root_is_never_written(root):
    before = snapshot(root)
    modes = {}
    for folder, dirs, files in os.walk(root):
        for name in [folder] + [osp.join(folder, f) for f in files]:
            modes[name] = os.stat(name).st_mode
            os.chmod(name, modes[name] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        for split in ('train', 'val', 'test'):
            dataset = build(root, split, split_mode='legacy_substring')
            for index in range(len(dataset)):
                dataset[index]
    finally:
        for name, mode in modes.items():
            os.chmod(name, mode)
    assert snapshot(root) == before


def test_missing_s1_twelve_band_s2_and_corrupt_tiff(tmp_path):
    """The three defects the issue names, each with its documented behaviour."""
    root = write_sen12mscr(str(tmp_path), scenes={'ROIs1158_spring': (31, )},
                           patches_per_scene=3, size=16)
    # 1. missing S1 partner: the patch is skipped with a warning naming the scene
    s1_dir = osp.join(root, 'ROIs1158_spring_s1', 's1_31')
    os.remove(osp.join(s1_dir, sorted(os.listdir(s1_dir))[0]))
    with pytest.warns(UserWarning, match=r'1 patch\(es\).*scene 31'):
        dataset = build(root, 'test')
    assert len(dataset) == 2
    # 2. a 12-band S2 target: refused with the file name and the band count
    path = dataset.get_data_info(0)['gt_path']
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(count=12)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.zeros((12, 16, 16), dtype='uint16'))
    with pytest.raises(ImageReadError, match='12 band') as err:
        dataset[0]
    assert osp.basename(path) in str(err.value)
    # 3. a corrupt TIFF (truncated garbage): refused with the file name
    path = dataset.get_data_info(1)['cloudy_path']
    with open(path, 'wb') as f:
        f.write(b'II*\x00garbage')
    with pytest.raises(ImageReadError) as err:
        dataset[1]
    assert osp.basename(path) in str(err.value)


def test_band_index_out_of_range_is_named(tmp_path):
    from crbench.datasets.transforms.geotiff import read_geotiff
    root = write_sen12mscr(str(tmp_path), scenes={'ROIs1158_spring': (31, )},
                           patches_per_scene=1, size=16)
    path = build(root, 'test').get_data_info(0)['sar_path']
    with pytest.raises(ImageReadError, match=r'2 band\(s\).*\[5\]') as err:
        read_geotiff(path, bands=[0, 5])
    assert osp.basename(path) in str(err.value)
