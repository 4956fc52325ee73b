"""Independent NumPy / SciPy / scikit-image re-computations used as oracles.

Written from the formulas in docs/datasets.md §2.8, §4.8, §5.7 and
§6, without reusing crbench code, so that the tests can fail.
"""
import numpy as np
from scipy.ndimage import gaussian_filter


def np_rmse(p, g):
    return float(np.sqrt(np.mean((g.astype(np.float64) - p) ** 2)))


def np_mae(p, g):
    return float(np.mean(np.abs(g.astype(np.float64) - p)))


def np_sam_degrees(p, g):
    """C×H×W arrays; EMRDM formula (no epsilon, NaN for zero vectors)."""
    p = p.astype(np.float64)
    g = g.astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        cos = (p * g).sum(0) / np.sqrt((g * g).sum(0)) / np.sqrt(
            (p * p).sum(0))
        return float(np.mean(np.degrees(np.arccos(np.clip(cos, -1, 1)))))


def np_ssim_gaussian(p, g, data_range=1.0):
    """pytorch_ssim re-done with SciPy: per channel, zero padding (mode
    'constant'), 11-tap Gaussian σ 1.5 (radius int(3.5·1.5+0.5) = 5),
    population covariance, mean over channels and pixels."""
    p = p.astype(np.float64)
    g = g.astype(np.float64)

    def filt(x):
        return np.stack([
            gaussian_filter(c, sigma=1.5, truncate=3.5, mode='constant',
                            cval=0.0) for c in x
        ])

    mp, mg = filt(p), filt(g)
    vp = filt(p * p) - mp ** 2
    vg = filt(g * g) - mg ** 2
    cv = filt(p * g) - mp * mg
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mp * mg + c1) * (2 * cv + c2)) / (
        (mp ** 2 + mg ** 2 + c1) * (vp + vg + c2))
    return float(s.mean())
