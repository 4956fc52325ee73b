"""CRMetric: per-image processing, NaN-skipping aggregation, input checks."""
import math

import numpy as np
import pytest
import torch

from crbench.evaluation import CRMetric, get_protocol
from crbench.registry import METRICS
from crbench.structures import CRDataSample

from .references import np_rmse, np_sam_degrees


def _sample(seed, bands=13, size=24, as_dict=True):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(bands, size, size, generator=g) * 2 - 1
    pred = (gt + 0.1 * torch.randn(bands, size, size, generator=g)).clamp(
        -1, 1)
    ds = CRDataSample(metainfo=dict(sample_id=f'id{seed}',
                                    gt_path=f'/data/gt_{seed}.tif'))
    ds.gt, ds.pred = gt, pred
    # MMEngine's evaluator hands the metric ``data_sample.to_dict()``
    return ds.to_dict() if as_dict else ds


def test_process_and_compute_match_protocol():
    metric = METRICS.build(dict(type='CRMetric',
                                protocol='sen12mscr_official'))
    samples = [_sample(i) for i in range(3)]
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    assert len(metric.results) == 3
    res = metric.evaluate(size=3)
    assert res['n_images'] == 3
    assert set(res) == {'RMSE', 'MAE', 'PSNR', 'SAM', 'SSIM', 'n_images'}
    rmses = []
    for s in samples:
        p = ((s['pred'].double() + 1) / 2).numpy()
        t = ((s['gt'].double() + 1) / 2).numpy()
        rmses.append(np_rmse(p, t))
    assert res['RMSE'] == pytest.approx(np.mean(rmses), abs=1e-9)
    psnrs = [20 * math.log10(1 / r) for r in rmses]  # mean of per-image PSNR
    assert res['PSNR'] == pytest.approx(np.mean(psnrs), abs=1e-9)
    assert metric.unavailable == []  # protocol without LPIPS


def test_data_elements_accepted_and_prefix(no_weights):
    metric = CRMetric(protocol='standard', prefix='val')
    metric.process({}, [_sample(5, bands=4, as_dict=False)])
    res = metric.evaluate(size=1)
    assert 'val/PSNR' in res and res['val/n_images'] == 1
    assert 'val/LPIPS' not in res and metric.unavailable == ['LPIPS']
    expect = get_protocol('standard')(
        _sample(5, bands=4)['pred'][None], _sample(5, bands=4)['gt'][None])
    assert res['val/SSIM'] == pytest.approx(expect['SSIM'].item(), abs=1e-12)


def test_nan_values_skipped_in_mean():
    metric = CRMetric(protocol='sen12mscr_official')
    s0, s1 = _sample(0), _sample(1)
    s1['gt'][:, 0, 0] = -1.0  # all-zero target pixel -> SAM NaN (§4.8)
    metric.process({}, [s0, s1])
    res = metric.compute_metrics(metric.results)
    p = ((s0['pred'].double() + 1) / 2).numpy()
    t = ((s0['gt'].double() + 1) / 2).numpy()
    assert res['SAM'] == pytest.approx(np_sam_degrees(p, t), abs=1e-9)
    assert res['n_images'] == 2 and not math.isnan(res['RMSE'])


def test_shape_mismatch_names_the_sample():
    metric = CRMetric(protocol='sen12mscr_official')
    s = _sample(2)
    s['pred'] = s['pred'][:3]
    with pytest.raises(ValueError, match='id2') as err:
        metric.process({}, [s])
    assert 'gt_2.tif' in str(err.value) and '(3, 24, 24)' in str(err.value)


def test_nan_prediction_raises():
    metric = CRMetric(protocol='sen12mscr_official')
    s = _sample(3)
    s['pred'][0, 1, 1] = float('nan')
    with pytest.raises(ValueError, match='id3.*NaN'):
        metric.process({}, [s])


def test_missing_pred_and_bad_rank():
    metric = CRMetric(protocol='sen12mscr_official')
    s = _sample(4)
    del s['pred']
    with pytest.raises(KeyError, match="'pred'"):
        metric.process({}, [s])
    s = _sample(4)
    s['pred'] = s['pred'][None]
    with pytest.raises(ValueError, match='C×H×W'):
        metric.process({}, [s])


def test_unknown_protocol():
    with pytest.raises(KeyError, match='sen12mscr_official'):
        CRMetric(protocol='psnr_only')


def test_per_image_rows_with_ids_and_cloud_fraction():
    metric = CRMetric(protocol='sen12mscr_official')
    samples = [_sample(i) for i in range(3)]
    mask = torch.zeros(1, 24, 24)
    mask[:, :6] = 1                                      # a quarter of the image is cloud
    samples[1]['mask'] = mask
    metric.process({}, samples)
    res = metric.evaluate(size=3)
    rows = metric.per_image
    assert [r['sample_id'] for r in rows] == ['id0', 'id1', 'id2']
    assert rows[1]['cloud_fraction'] == pytest.approx(0.25)
    assert 'cloud_fraction' not in rows[0] and 'cloud_fraction' not in res
    assert 'sample_id' not in res and res['n_images'] == 3
    for key in ('RMSE', 'PSNR', 'SSIM', 'SAM', 'MAE'):   # the mean is the mean of the rows
        assert res[key] == pytest.approx(np.mean([r[key] for r in rows]), abs=1e-12)
    assert res['RMSE_cloudy'] == pytest.approx(rows[1]['RMSE_cloudy'])  # only image 1 has one
