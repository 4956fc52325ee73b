"""CUHK-CR: the download layout, pairing by name, scaling, synthetic flag."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from crbench.datasets import CUHKCRDataset, DatasetLayoutError
from crbench.datasets.synthetic import write_cuhk
from crbench.datasets.transforms.matlab_resize import matlab_imresize
from crbench.registry import DATASETS


@pytest.fixture(scope='module')
def cuhk_root(tmp_path_factory):
    top = write_cuhk(str(tmp_path_factory.mktemp('cuhk')), 'CUHK-CR2',
                     {'train': 3, 'test': 2}, size=32, seed=3)
    return osp.join(top, 'CUHK-CR2')


def dataset_from_base_config(repo_root, data_root, split='train'):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/_base_/datasets/cuhk_cr2.py'))
    ds_cfg = cfg.train_dataloader.dataset if split == 'train' else cfg.test_dataloader.dataset
    ds_cfg.data_root = data_root
    return DATASETS.build(ds_cfg)


def listing(root):
    return sorted((d, tuple(sorted(f))) for d, _, f in os.walk(root))


def test_layout_written_exactly(cuhk_root):
    top = osp.dirname(cuhk_root)
    for tree in (cuhk_root, osp.join(top, 'nir', 'CUHK-CR2')):
        for split, n in (('train', 3), ('test', 2)):
            for role in ('cloud', 'label'):
                names = sorted(os.listdir(osp.join(tree, split, role)))
                assert len(names) == n and all(x.endswith('.png') for x in names)
    rgb = np.asarray(Image.open(osp.join(cuhk_root, 'train', 'cloud', '0.png')))
    nir = np.asarray(Image.open(osp.join(top, 'nir', 'CUHK-CR2', 'train', 'cloud', '0.png')))
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert nir.shape == (32, 32, 3) and (nir[..., 0] == nir[..., 2]).all()


def test_sample_matches_manual_pipeline(repo_root, cuhk_root):
    before = listing(osp.dirname(cuhk_root))
    ds = dataset_from_base_config(repo_root, cuhk_root)
    assert len(ds) == 2 and ds.synthetic   # 3 published train pairs: 2 train + 1 val
    sample = ds[0]
    cloudy = sample['inputs']['cloudy'].numpy()
    sid = sample['data_samples'].metainfo['sample_id']
    rgb = np.asarray(Image.open(osp.join(cuhk_root, 'train', 'cloud', f'{sid}.png')), np.float64)
    nir = np.asarray(Image.open(osp.join(osp.dirname(cuhk_root), 'nir', 'CUHK-CR2', 'train',
                                         'cloud', f'{sid}.png')), np.float64)[..., :1]
    expected = matlab_imresize(np.concatenate([rgb, nir], 2), 0.5) / 255 * 2 - 1
    np.testing.assert_allclose(cloudy, np.moveaxis(expected, -1, 0), atol=1e-5)
    assert sample['data_samples'].gt.shape == (4, 16, 16)
    assert sample['data_samples'].metainfo['band_names'] == ['R', 'G', 'B', 'NIR']
    assert listing(osp.dirname(cuhk_root)) == before  # nothing written into the dataset


def test_missing_root_names_path_and_layout(tmp_path):
    with pytest.raises(DatasetLayoutError) as err:
        CUHKCRDataset(str(tmp_path / 'nowhere' / 'CUHK-CR2'), split='train')
    assert 'nowhere' in str(err.value) and 'C-CUHK/' in str(err.value)


def test_unpaired_name_is_reported(tmp_path):
    top = write_cuhk(str(tmp_path), 'CUHK-CR1', {'train': 3, 'test': 1}, size=16, seed=0)
    os.remove(osp.join(top, 'nir', 'CUHK-CR1', 'train', 'label', '1.png'))
    with pytest.raises(DatasetLayoutError, match=r"missing there \['1.png'\]"):
        CUHKCRDataset(osp.join(top, 'CUHK-CR1'), split='train')


def test_corrupt_and_wrong_size_files_are_named(tmp_path):
    top = write_cuhk(str(tmp_path), 'CUHK-CR1', {'train': 2, 'test': 1}, size=16, seed=0)
    root = osp.join(top, 'CUHK-CR1')
    with open(osp.join(root, 'train', 'cloud', '0.png'), 'wb') as f:
        f.write(b'not a png')
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(osp.join(root, 'train', 'label', '1.png'))
    load = dict(type='LoadImageBands',
                sources=dict(cloudy=[('cloudy_path', [0, 1, 2]), ('cloudy_nir_path', [0])],
                             gt=[('gt_path', [0, 1, 2]), ('gt_nir_path', [0])]))
    ds = CUHKCRDataset(root, split='trainval', pipeline=[load])
    with pytest.raises(Exception, match=r'0\.png.*corrupt'):
        ds[0]
    with pytest.raises(Exception, match=r'1\.png.*same size'):
        ds[1]


def test_rgb_only_mode(cuhk_root):
    ds = CUHKCRDataset(cuhk_root, split='test', use_nir=False)
    assert len(ds) == 2 and 'cloudy_nir_path' not in ds.get_data_info(0)
