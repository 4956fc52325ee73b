"""DSen2-CR's CARL cloud/shadow mask (its crop and SAR scaling: test_crop_bands.py).

``tests/data/dsen2cr/official_cloud_shadow_mask.npz`` holds two 13-band Sentinel-2
patches (synthetic SEN12MS-CR scenes with a pasted cloud bank and a darkened patch) and
the masks the official code (ameraner/dsen2-cr ``get_cloud_cloudshadow_mask``, threshold
0.2, non-zero -> 1) computed for them.
"""
import os.path as osp

import numpy as np
import pytest

from crbench.datasets.transforms.dsen2cr import SentinelCloudShadowMask, cloud_shadow_mask

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
