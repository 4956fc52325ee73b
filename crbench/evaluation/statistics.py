"""Uncertainty of a reported mean and paired comparison of two runs.

Every crbench protocol reports, per metric, the NaN-skipping arithmetic mean of
one value per image (``protocols.nanmean_results``). The statistics here
resample *images*, so they describe the same quantity:

* :func:`bootstrap_ci` — 95 % percentile bootstrap interval of that mean
  (seeded; ``n_resamples`` ≥ 1,000). Each resample draws n images with
  replacement and takes the NaN-skipping mean, as the reported number does.
* :func:`paired_comparison` — for two runs scored on the same images: the mean
  per-image difference (B − A) with a paired-bootstrap interval (resampling
  image pairs), the Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon``,
  two-sided) and how often B beats A, respecting each metric's direction
  (:func:`higher_is_better`: lower RMSE is better).
"""
import math
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
_CHUNK_ELEMENTS = 1 << 22  # resample draws held in memory at once (~32 MB of indices)


def declared_directions() -> Dict[str, bool]:
    """``{metric: higher is better}`` as the registered metric protocols declare it
    (``BaseProtocol.metrics``), in the order they first list the metrics; the first
    protocol that lists a metric decides."""
    from .protocols import PROTOCOLS
    out: Dict[str, bool] = {}
    for cls in PROTOCOLS.values():
        for metric, higher in cls.metrics.items():
            out.setdefault(metric, bool(higher))
    return out


def higher_is_better(metric: str, protocol: Optional[str] = None) -> bool:
    """Direction of ``metric``: ``protocol``'s own table first, else
    :func:`declared_directions`."""
    from .protocols import PROTOCOLS
    table = PROTOCOLS[protocol].metrics if protocol in PROTOCOLS else {}
    if metric in table:
        return bool(table[metric])
    declared = declared_directions()
    if metric in declared:
        return declared[metric]
    raise ValueError(f'no registered metric protocol defines {metric!r} (protocol '
                     f'{protocol!r}), so its direction is unknown: import the package that '
                     'registers its protocol (the run config\'s custom_imports)')


def _resampled_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """NaN-skipping means of ``n_resamples`` bootstrap resamples of ``values`` (1-D)."""
    rng = np.random.default_rng(seed)
    n = values.size
    chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    out = []
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        draws = values[idx]
        if np.isnan(values).any():
            counts = (~np.isnan(draws)).sum(1)
            sums = np.where(np.isnan(draws), 0.0, draws).sum(1)
            with np.errstate(invalid='ignore', divide='ignore'):
                out.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
        else:
            out.append(draws.mean(1))
    return np.concatenate(out)


def _percentile_interval(means: np.ndarray, confidence: float) -> Optional[Tuple[float, float]]:
    means = means[~np.isnan(means)]
    if means.size == 0:
        return None
    alpha = (1 - confidence) / 2
    with np.errstate(invalid='ignore'):  # inf - inf while interpolating: a NaN bound
        lo, hi = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None  # e.g. an infinite PSNR (exact reconstruction) in the sample
    return float(lo), float(hi)


def bootstrap_ci(values: Sequence[float], n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED,
                 confidence: float = CONFIDENCE) -> Optional[Tuple[float, float]]:
    """Percentile bootstrap interval of the NaN-skipping mean of per-image ``values``.

    None when it is undefined: fewer than 2 finite values, or a non-finite bound.
    """
    if n_resamples < 1000:
        raise ValueError(f'n_resamples must be at least 1000, got {n_resamples}')
    values = np.asarray(values, dtype=np.float64).ravel()
    if np.count_nonzero(~np.isnan(values)) < 2:
        return None
    return _percentile_interval(_resampled_means(values, n_resamples, seed), confidence)


def metrics_ci(rows: Iterable[dict], metrics: Iterable[str],
               n_resamples: int = DEFAULT_RESAMPLES,
               seed: int = DEFAULT_SEED) -> Dict[str, Optional[list]]:
    """``{metric: [lo, hi] or None}`` over per-image ``rows`` (dicts of metric → value)."""
    rows = list(rows)
    out = {}
    for metric in metrics:
        values = [float(r.get(metric, float('nan'))) for r in rows]
        ci = bootstrap_ci(values, n_resamples, seed)
        out[metric] = list(ci) if ci is not None else None
    return out


def paired_comparison(a: Sequence[float], b: Sequence[float], higher_better: bool,
                      n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                      confidence: float = CONFIDENCE) -> dict:
    """Compare run B with run A on the same images (``a[i]`` and ``b[i]``: image i).

    Pairs where either value is NaN are left out (as each run's mean leaves them out).
    Returns ``n``, ``mean_a``, ``mean_b``, ``mean_diff`` (B − A), ``ci95`` of it
    (paired bootstrap, percentile), ``wilcoxon_p`` (two-sided; None when every
    difference is 0 or fewer than 2 pairs), ``wins`` / ``ties`` / ``losses`` of B
    and ``win_rate`` = wins / n.
    """
    from scipy import stats
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f'paired values must have the same length, got {a.size} and {b.size}')
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(a.size)
    out = dict(n=n, mean_a=None, mean_b=None, mean_diff=None, ci95=None, wilcoxon_p=None,
               wins=0, ties=0, losses=0, win_rate=None, higher_is_better=higher_better)
    if n == 0:
        return out
    with np.errstate(invalid='ignore'):
        diff = b - a
    better = diff > 0 if higher_better else diff < 0
    worse = diff < 0 if higher_better else diff > 0
    out.update(mean_a=float(a.mean()), mean_b=float(b.mean()), mean_diff=float(diff.mean()),
               wins=int(better.sum()), losses=int(worse.sum()),
               ties=int(n - better.sum() - worse.sum()), win_rate=float(better.sum() / n))
    if n >= 2 and np.isfinite(diff).all():
        ci = _percentile_interval(_resampled_means(diff, n_resamples, seed), confidence)
        out['ci95'] = list(ci) if ci is not None else None
        if np.any(diff != 0):
            out['wilcoxon_p'] = float(stats.wilcoxon(diff).pvalue)
    return out
