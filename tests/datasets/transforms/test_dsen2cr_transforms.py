"""DSen2-CR's transforms: the CARL cloud/shadow mask, the paired crop, per-band rescaling.

``tests/data/dsen2cr/official_cloud_shadow_mask.npz`` holds two 13-band Sentinel-2
patches (synthetic SEN12MS-CR scenes with a pasted cloud bank and a darkened patch) and
the masks the official code (ameraner/dsen2-cr ``get_cloud_cloudshadow_mask``, threshold
0.2, non-zero -> 1) computed for them.
"""
import os.path as osp

import numpy as np
import pytest

from crbench.datasets.transforms.dsen2cr import (DSen2CRRandomCrop, DSen2CRRescaleBands,
                                                 SentinelCloudShadowMask, cloud_shadow_mask)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
FIXTURE = osp.join(REPO, 'tests', 'data', 'dsen2cr', 'official_cloud_shadow_mask.npz')


def test_mask_equals_the_official_mask():
    data = np.load(FIXTURE)
    for image, official in zip(data['images'], data['masks']):
        assert 0.2 < official.mean() < 0.8          # both classes present
        np.testing.assert_array_equal(cloud_shadow_mask(image, 0.2), official)
    # a different threshold gives a different mask (the comparison can fail)
    assert not np.array_equal(cloud_shadow_mask(data['images'][0], 0.9), data['masks'][0])


def test_mask_transform_reads_hwc_and_writes_hw1():
    data = np.load(FIXTURE)
    results = {'cloudy': np.moveaxis(data['images'][1], 0, -1), 'cloudy_path': 'x.tif'}
    out = SentinelCloudShadowMask()(results)
    assert out['mask'].shape == (40, 40, 1)
    np.testing.assert_array_equal(out['mask'][..., 0], data['masks'][1])
    with pytest.raises(ValueError, match='13-band'):
        SentinelCloudShadowMask()({'cloudy': np.zeros((8, 8, 4), np.float32)})


def test_paired_crop_cuts_one_window_from_every_key():
    np.random.seed(0)
    grid = np.arange(10 * 10, dtype=np.float32).reshape(10, 10, 1)
    results = {'cloudy': np.repeat(grid, 13, -1), 'sar': np.repeat(grid, 2, -1), 'gt': grid.copy(),
               'frames': np.stack([grid, grid])}
    out = DSen2CRRandomCrop(keys=('cloudy', 'sar', 'gt', 'frames'), size=4)(results)
    top, left = out['crop_offset']
    assert 0 <= top < 6 and 0 <= left < 6
    for key, bands in (('cloudy', 13), ('sar', 2), ('gt', 1)):
        assert out[key].shape == (4, 4, bands)
        np.testing.assert_array_equal(out[key][..., 0], grid[top:top + 4, left:left + 4, 0])
    assert out['frames'].shape == (2, 4, 4, 1)
    with pytest.raises(ValueError, match='exceeds'):
        DSen2CRRandomCrop(keys=('gt', ), size=12)({'gt': grid})
    with pytest.raises(ValueError, match='share a grid'):
        DSen2CRRandomCrop(keys=('gt', 'sar'), size=4)({'gt': grid, 'sar': grid[:8]})


def test_per_band_rescale_uses_each_band_range():
    sar = np.array([[[-25.0, -32.5], [0.0, 0.0], [-12.5, -16.25], [-40.0, np.nan]]], np.float32)
    out = DSen2CRRescaleBands('sar', [(-25.0, 0.0), (-32.5, 0.0)])({'sar': sar})['sar']
    np.testing.assert_allclose(out[0], [[-1, -1], [1, 1], [0, 0], [-1, -1]], atol=1e-6)
    with pytest.raises(ValueError, match='2 ranges'):
        DSen2CRRescaleBands('sar', [(-25.0, 0.0), (-32.5, 0.0)])({'sar': np.zeros((2, 2, 3))})
