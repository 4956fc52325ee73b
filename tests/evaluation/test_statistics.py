"""Bootstrap intervals and paired comparison against scipy.stats on fixed data."""
import numpy as np
import pytest
from scipy import stats

from crbench.evaluation.statistics import (bootstrap_ci, higher_is_better, metrics_ci,
                                           paired_comparison)

RNG = np.random.default_rng(12345)
PSNR_A = RNG.normal(26.0, 3.0, 120)                         # per-image values of run A
PSNR_B = PSNR_A + RNG.normal(0.4, 1.0, 120)                 # B is ~0.4 dB better, paired


def scipy_percentile_ci(values, n_resamples, seed=0):
    res = stats.bootstrap((values, ), np.mean, n_resamples=n_resamples, method='percentile',
                          confidence_level=0.95, random_state=np.random.default_rng(seed))
    return res.confidence_interval.low, res.confidence_interval.high


@pytest.mark.parametrize('n_resamples', [2000, 10000])
def test_ci_matches_scipy_bootstrap_percentile(n_resamples):
    lo, hi = bootstrap_ci(PSNR_A, n_resamples=n_resamples, seed=0)
    ref_lo, ref_hi = scipy_percentile_ci(PSNR_A, n_resamples)
    width = ref_hi - ref_lo
    # two Monte Carlo estimates of the same percentiles: equal up to resampling noise
    assert lo == pytest.approx(ref_lo, abs=0.08 * width)
    assert hi == pytest.approx(ref_hi, abs=0.08 * width)
    assert lo < PSNR_A.mean() < hi
    # and the normal-theory interval of the mean says the same
    se = PSNR_A.std(ddof=1) / np.sqrt(PSNR_A.size)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_ci_is_seeded_and_needs_1000_resamples():
    assert bootstrap_ci(PSNR_A, seed=3) == bootstrap_ci(PSNR_A, seed=3)
    assert bootstrap_ci(PSNR_A, seed=3) != bootstrap_ci(PSNR_A, seed=4)
    with pytest.raises(ValueError, match='1000'):
        bootstrap_ci(PSNR_A, n_resamples=999)
    assert bootstrap_ci([1.0]) is None
    assert bootstrap_ci([30.0, np.inf, 31.0]) is None          # an exact reconstruction


def test_ci_follows_the_nan_skipping_mean():
    # SAM is NaN for some images and the reported mean skips them (crbench's aggregation):
    # the interval is the one of the finite values' mean.
    values = PSNR_A.copy()
    values[::10] = np.nan
    finite = values[~np.isnan(values)]
    lo, hi = bootstrap_ci(values, n_resamples=4000)
    ref_lo, ref_hi = scipy_percentile_ci(finite, 4000)
    assert lo < np.nanmean(values) < hi
    assert (lo, hi) == pytest.approx((ref_lo, ref_hi), abs=0.1 * (ref_hi - ref_lo))
    rows = [dict(PSNR=v, RMSE=1 / (1 + v)) for v in values]
    cis = metrics_ci(rows, ['PSNR', 'RMSE'], n_resamples=4000)
    assert cis['PSNR'] == [lo, hi]


def test_paired_comparison_matches_scipy():
    out = paired_comparison(PSNR_A, PSNR_B, higher_better=True, n_resamples=4000)
    diff = PSNR_B - PSNR_A
    assert out['n'] == 120 and out['mean_diff'] == pytest.approx(diff.mean(), abs=1e-12)
    assert out['wilcoxon_p'] == stats.wilcoxon(diff).pvalue                 # exactly
    ref = stats.bootstrap((diff, ), np.mean, n_resamples=4000, method='percentile',
                          random_state=np.random.default_rng(0)).confidence_interval
    width = ref.high - ref.low
    assert out['ci95'] == pytest.approx([ref.low, ref.high], abs=0.08 * width)
    assert out['wins'] == int((diff > 0).sum()) and out['win_rate'] == pytest.approx(
        (diff > 0).mean())
    assert out['wins'] + out['ties'] + out['losses'] == 120


def test_direction_of_error_metrics():
    rmse_a, rmse_b = 1 / PSNR_A, 1 / PSNR_B               # B has the lower (better) RMSE
    out = paired_comparison(rmse_a, rmse_b, higher_better=higher_is_better('RMSE'))
    assert not higher_is_better('RMSE') and higher_is_better('PSNR', 'cuhk_official')
    # a metric outside the run's protocol: as the protocol that declares it says
    assert not higher_is_better('SAM', 'cuhk_official') and not higher_is_better('LPIPS')
    # directions come from the protocols alone, never guessed from the name
    with pytest.raises(ValueError, match="'RMSE_cloudy'.*custom_imports"):
        higher_is_better('RMSE_cloudy', 'cuhk_official')
    assert out['win_rate'] == pytest.approx(((PSNR_B - PSNR_A) > 0).mean())
    assert out['mean_diff'] < 0


def test_a_broken_pairing_changes_the_answer():
    paired = paired_comparison(PSNR_A, PSNR_B, higher_better=True)
    shuffled = paired_comparison(PSNR_A, np.random.default_rng(1).permutation(PSNR_B),
                                 higher_better=True)
    # The mean difference does not depend on the pairing, everything else does: the
    # paired test sees a clear gain; shuffled ids drown it in between-image variance.
    assert shuffled['mean_diff'] == pytest.approx(paired['mean_diff'])
    assert paired['wilcoxon_p'] < 1e-4 < shuffled['wilcoxon_p']
    assert paired['ci95'][0] > 0 > shuffled['ci95'][0]
    assert paired['win_rate'] > 0.6 > shuffled['win_rate']


def test_nan_pairs_and_identical_runs():
    a = np.array([1.0, np.nan, 3.0, 4.0])
    b = np.array([1.5, 2.0, np.nan, 4.5])
    out = paired_comparison(a, b, higher_better=True)
    assert out['n'] == 2 and out['mean_diff'] == pytest.approx(0.5)
    same = paired_comparison(PSNR_A, PSNR_A, higher_better=True)
    assert same['mean_diff'] == 0 and same['wilcoxon_p'] is None and same['ties'] == 120
    with pytest.raises(ValueError, match='same length'):
        paired_comparison(a, b[:3], higher_better=True)
