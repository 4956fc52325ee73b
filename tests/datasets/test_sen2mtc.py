"""Sen2_MTC_New: synthetic twin through the dataset, split files, TIFF layout, augmentation."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import tifffile
import torch
from mmengine.config import Config

from crbench.datasets import DatasetLayoutError, Sen2MTCNewDataset
from crbench.datasets.synthetic import write_sen2mtc
from crbench.datasets.transforms import ImageReadError, flip_rotate
from crbench.setup_env import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 32
TILES = {'train': ['T12TUR_R027', 'T21MUR_R010'], 'val': ['T34TDT_R036'],  # one-line file
         'test': ['T31TBG_R051', 'T41UNR_R020']}


def cfg():
    return Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/sen2mtc_new.py'))


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    register_all_modules()
    return write_sen2mtc(str(tmp_path_factory.mktemp('mtc')), tiles=TILES, images_per_tile=2,
                         size=SIZE, seed=1)


@pytest.fixture
def copy(root, tmp_path):
    """A private copy that a test may damage."""
    return shutil.copytree(root, str(tmp_path / 'Sen2_MTC_New'))


def build(root, split='test', train_pipeline=False, **kwargs):
    pipeline = cfg().train_pipeline if train_pipeline else cfg().test_pipeline
    return Sen2MTCNewDataset(data_root=root, split=split, pipeline=pipeline, **kwargs)


def test_round_trip_and_scaling(root):
    dataset = build(root, 'test')
    assert len(dataset) == 4 and dataset.synthetic
    sample = dataset[0]
    cloudy, gt = sample['inputs']['cloudy'], sample['data_samples'].gt
    assert cloudy.shape == (3, 4, SIZE, SIZE) and gt.shape == (3, SIZE, SIZE)
    info = dataset.get_data_info(0)
    assert [p[-6:] for p in info['cloudy_path']] == ['_0.tif', '_1.tif', '_2.tif']
    raw_gt = tifffile.imread(info['gt_path'])
    assert raw_gt.shape == (SIZE, SIZE, 4) and raw_gt.dtype == np.uint16
    raw_cloudy = np.stack([tifffile.imread(p) for p in info['cloudy_path']])
    torch.testing.assert_close(gt, torch.from_numpy(
        (raw_gt[..., :3].astype(np.float32) / 10000 - 0.5) / 0.5).permute(2, 0, 1))
    torch.testing.assert_close(cloudy, torch.from_numpy(
        (raw_cloudy.astype(np.float32) / 10000 - 0.5) / 0.5).permute(0, 3, 1, 2))
    assert sample['data_samples'].metainfo['band_names'] == ['R', 'G', 'B']


def test_no_clipping_above_10000(copy):
    dataset = build(copy, 'test')
    path = dataset.get_data_info(0)['cloudy_path'][1]
    array = tifffile.imread(path)
    array[0, 0] = 12000
    tifffile.imwrite(path, array, photometric='minisblack', planarconfig='contig')
    value = dataset[0]['inputs']['cloudy'][1, :, 0, 0]
    torch.testing.assert_close(value, torch.full((4, ), 12000 / 5000 - 1.0))


def test_one_line_split_file(root):
    with open(osp.join(root, 'val.txt')) as f:
        assert f.read().strip() == 'T34TDT_R036'
    assert len(build(root, 'val')) == 2


def test_non_tif_files_are_ignored_with_a_warning(copy):
    clear_dir = osp.join(copy, 'Sen2_MTC', 'T12TUR_R027', 'cloudless')
    for junk in ('notes.txt', '.DS_Store', 'T12TUR_R027_1.tif.aux.xml'):
        open(osp.join(clear_dir, junk), 'w').close()
    with pytest.warns(UserWarning, match=r'ignoring 3 file\(s\)'):
        dataset = build(copy, 'train')
    assert len(dataset) == 4


def test_planar_tiff_is_refused(copy):
    dataset = build(copy, 'test')
    path = dataset.get_data_info(1)['gt_path']
    tifffile.imwrite(path, tifffile.imread(path).transpose(2, 0, 1),
                     photometric='minisblack', planarconfig='separate')
    with pytest.raises(ImageReadError, match='planar') as err:
        dataset[1]
    assert path in str(err.value)
    dataset[0]  # other samples still load
    # One page per band also decodes as C×H×W: refused too.
    path = dataset.get_data_info(0)['gt_path']
    hwc = tifffile.imread(path)
    tifffile.imwrite(path, hwc.transpose(2, 0, 1), photometric='minisblack')
    with pytest.raises(ImageReadError, match='band-sequential'):
        dataset[0]
    # tifffile's plain minisblack write of an H×W×4 array (one page per row) decodes as
    # H×W×4, as EMRDM reads it: accepted, same values.
    tifffile.imwrite(path, hwc, photometric='minisblack')
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].axes == 'QYX'
    np.testing.assert_allclose(dataset[0]['data_samples'].gt.numpy(),
                               hwc[..., :3].transpose(2, 0, 1) / 5000 - 1.0, atol=1e-6)


def test_wrong_band_count_is_refused(copy):
    dataset = build(copy, 'test')
    path = dataset.get_data_info(0)['cloudy_path'][2]
    tifffile.imwrite(path, np.zeros((SIZE, SIZE, 3), np.uint16), photometric='rgb')
    with pytest.raises(ImageReadError, match=r'H×W×4') as err:
        dataset[0]
    assert path in str(err.value)


def test_missing_partner_and_missing_tile(copy):
    os.remove(osp.join(copy, 'Sen2_MTC', 'T31TBG_R051', 'cloud', 'T31TBG_R051_2_1.tif'))
    with pytest.raises(DatasetLayoutError, match='T31TBG_R051_2_1.tif'):
        build(copy, 'test')
    # Only time step 0 needed: the sample is complete again.
    assert len(build(copy, 'test', mono_temporal=0)) == 4
    with open(osp.join(copy, 'train.txt'), 'a') as f:
        f.write('T99XXX_R001\n')
    with pytest.raises(DatasetLayoutError, match='T99XXX_R001'):
        build(copy, 'train')


def test_nested_copy_is_pointed_out(root):
    with pytest.raises(DatasetLayoutError, match=f'found at {root!r}'):
        Sen2MTCNewDataset(data_root=osp.dirname(root), split='train')


def test_temporal_options(root):
    two = build(root, 'test', multi_temporal=2)
    assert two[0]['inputs']['cloudy'].shape == (2, 4, SIZE, SIZE)
    mono = build(root, 'test', mono_temporal=2)
    assert mono.get_data_info(0)['cloudy_path'][0].endswith('_2.tif')
    full = build(root, 'test')[0]['inputs']['cloudy']
    torch.testing.assert_close(mono[0]['inputs']['cloudy'][0], full[2])
    for bad in (dict(multi_temporal=0), dict(multi_temporal=4), dict(mono_temporal=3)):
        with pytest.raises(ValueError):
            Sen2MTCNewDataset(data_root=root, split='test', **bad)


def test_augmentation_is_joint_and_deterministic_per_sample(root):
    plain = build(root, 'train')
    augmented = build(root, 'train', train_pipeline=True)
    again = build(root, 'train', train_pipeline=True)
    params = set()
    for index in (3, 0, 2, 1, 0):  # any read order gives the same transform per sample
        sample = augmented[index]
        meta = sample['data_samples'].metainfo
        code = ('none', 'rows', 'cols').index(meta['flip_code'])
        params.add((index, code, meta['rot90_k']))
        reference = plain[index]
        expected_cloudy = flip_rotate(reference['inputs']['cloudy'].permute(0, 2, 3, 1).numpy(),
                                      code, meta['rot90_k'])
        expected_gt = flip_rotate(reference['data_samples'].gt.permute(1, 2, 0).numpy(), code,
                                  meta['rot90_k'])
        torch.testing.assert_close(sample['inputs']['cloudy'],
                                   torch.from_numpy(expected_cloudy).permute(0, 3, 1, 2))
        torch.testing.assert_close(sample['data_samples'].gt,
                                   torch.from_numpy(expected_gt).permute(2, 0, 1))
        torch.testing.assert_close(again[index]['inputs']['cloudy'], sample['inputs']['cloudy'])
    assert len({p[0] for p in params}) == len(params) == 4  # one transform per sample
    # Another seed changes the draws of at least one sample.
    pipeline = cfg().train_pipeline
    pipeline[1]['seed'] = 12345
    other = Sen2MTCNewDataset(data_root=root, split='train', pipeline=pipeline)
    draws = {(i, other[i]['data_samples'].metainfo['flip_code'],
              other[i]['data_samples'].metainfo['rot90_k']) for i in range(4)}
    assert draws != {(i, ('none', 'rows', 'cols')[c], k) for i, c, k in params}


def test_flip_rotate_semantics():
    image = np.arange(6, dtype=np.float32).reshape(2, 3, 1)      # H=2, W=3
    np.testing.assert_array_equal(flip_rotate(image, 1, 0)[..., 0], [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(flip_rotate(image, 2, 0)[..., 0], [[2, 1, 0], [5, 4, 3]])
    rotated = flip_rotate(image, 0, 1)[..., 0]                    # counter-clockwise, as np.rot90
    np.testing.assert_array_equal(rotated, [[2, 5], [1, 4], [0, 3]])
    stack = np.stack([image, image + 10])
    np.testing.assert_array_equal(flip_rotate(stack, 2, 3)[1], flip_rotate(image + 10, 2, 3))


def test_read_only_root_is_never_written(root):
    def snapshot():
        return {osp.join(d, n): os.stat(osp.join(d, n)).st_mtime_ns
                for d, dirs, files in os.walk(root) for n in dirs + files}
    before = snapshot()
    modes = {p: os.stat(p).st_mode for p in [root] + list(before)}
    for path, mode in modes.items():
        os.chmod(path, mode & ~0o222)
    try:
        for split in ('train', 'val', 'test'):
            dataset = build(root, split, train_pipeline=split == 'train')
            for index in range(len(dataset)):
                dataset[index]
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert snapshot() == before
