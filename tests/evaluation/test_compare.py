"""crbench/evaluation/compare.py: two runs' per-image files compared, bad requests refused."""
import json

import numpy as np
import pytest

from crbench.evaluation.compare import IncomparableRunsError, compare_runs, main
from crbench.evaluation.statistics import paired_comparison
from crbench.results import build_record, write_test_result

RNG = np.random.default_rng(3)
IDS = [f'img{i}' for i in range(30)]
PSNR_A = RNG.normal(25, 2, 30)
PSNR_B = PSNR_A + RNG.normal(0.5, 0.3, 30)


def write_run(folder, model, psnr, protocol='cuhk_official', error_metric='RMSE'):
    rmse = 10 ** (-psnr / 20)
    record = build_record(model=model, config=f'{model}.py', dataset='CUHK-CR2', split='test',
                          protocol=protocol, n_images=len(psnr), checkpoint=None,
                          metrics={'PSNR': psnr.mean(), error_metric: rmse.mean()},
                          synthetic=True)
    rows = [{'sample_id': i, 'PSNR': p, error_metric: r} for i, p, r in zip(IDS, psnr, rmse)]
    return write_test_result(record, str(folder), per_image=rows)


def test_directions_come_from_the_protocol(tmp_path):
    a, b = write_run(tmp_path, 'a', PSNR_A), write_run(tmp_path, 'b', PSNR_B)
    out = compare_runs(a, b, n_resamples=1000)
    assert out['n_common'] == 30 and list(out['metrics']) == ['PSNR', 'RMSE']
    psnr, rmse = out['metrics']['PSNR'], out['metrics']['RMSE']
    assert psnr['higher_is_better'] and not rmse['higher_is_better']
    # B is better on both: a higher PSNR is a lower RMSE, image by image
    assert psnr['win_rate'] == rmse['win_rate'] == pytest.approx((PSNR_B > PSNR_A).mean())
    assert psnr['mean_diff'] == pytest.approx(
        paired_comparison(PSNR_A, PSNR_B, True, n_resamples=1000)['mean_diff'])


def test_unknown_metric_or_protocol_is_refused(tmp_path, capsys):
    a, b = write_run(tmp_path, 'a', PSNR_A), write_run(tmp_path, 'b', PSNR_B)
    assert main([a, b, '--metrics', 'PSNR', 'SSIM', '--n-resamples', '1000']) == 2
    assert "['SSIM'] are not in both runs" in capsys.readouterr().err
    # a plugin protocol that is not imported: its metric's direction is not guessed
    a, b = (write_run(tmp_path, m, p, protocol='mars_l1', error_metric='MarsL1')
            for m, p in (('a', PSNR_A), ('b', PSNR_B)))
    with pytest.raises(IncomparableRunsError, match="'MarsL1'.*custom_imports"):
        compare_runs(a, b, n_resamples=1000)
    assert json.load(open(a))['protocol'] == 'mars_l1'
