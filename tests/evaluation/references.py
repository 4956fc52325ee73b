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


def _ssim_with(filt, p, g, data_range):
    """SSIM from local means and (population) covariances taken with ``filt``,
    averaged over channels and pixels."""
    mp, mg = filt(p), filt(g)
    vp = filt(p * p) - mp ** 2
    vg = filt(g * g) - mg ** 2
    cv = filt(p * g) - mp * mg
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mp * mg + c1) * (2 * cv + c2)) / (
        (mp ** 2 + mg ** 2 + c1) * (vp + vg + c2))
    return float(s.mean())


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

    return _ssim_with(filt, p, g, data_range)


def torch_conv2d_ssim_gaussian(p, g, data_range=1.0):
    """EMRDM's ``pytorch_ssim`` as the official evaluator runs it: one image
    (C×H×W), the 11×11 Gaussian window (σ 1.5) as a depthwise 2-D
    convolution with zero padding 5, population covariance; here in float64
    so that it can be compared to 1e-10. This is the per-image loop the
    separable filter replaces (docs/datasets.md §4.8 item 5)."""
    import torch
    import torch.nn.functional as F
    p = torch.as_tensor(p, dtype=torch.float64)[None]
    g = torch.as_tensor(g, dtype=torch.float64)[None]
    x = torch.arange(11, dtype=torch.float64) - 5
    w = torch.exp(-x ** 2 / (2 * 1.5 ** 2))
    w = w / w.sum()
    c = p.shape[1]
    win = torch.outer(w, w).expand(c, 1, 11, 11).contiguous()

    def filt(t):
        return F.conv2d(t, win, padding=5, groups=c)

    return _ssim_with(filt, p, g, data_range)


# Gray weights of the CUHK evaluator (docs/datasets.md §2.8 item 5).
GRAY = [0.298912, 0.586611, 0.114478]


def official_uint8(x):
    """The CUHK evaluator's chain on a [-1, 1] torch tensor:
    x01 -> 2x-1 -> ((.+1)*127.5).clamp.to(uint8) (truncating)."""
    import torch
    x01 = (x + 1.0) / 2.0
    return ((x01 * 2 - 1 + 1) * 127.5).clamp(0, 255).to(torch.uint8)


def ref_cuhk_official(pred, gt, loss_fn=None):
    """One image (C×H×W torch, [-1, 1]) as docs/datasets.md §2.8 / §3.7
    describe the evaluator: NumPy RMSE, scikit-image PSNR and SSIM (gray of
    each band, or of RGB), lpips on each replicated band (or RGB)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    p01, g01 = ((pred + 1) / 2).numpy(), ((gt + 1) / 2).numpy()
    out = {'RMSE': np_rmse(p01, g01)}
    qp, qg = official_uint8(pred), official_uint8(gt)
    qp_hwc = qp.numpy().transpose(1, 2, 0)
    qg_hwc = qg.numpy().transpose(1, 2, 0)
    out['PSNR'] = peak_signal_noise_ratio(qg_hwc, qp_hwc, data_range=255)

    def gray(img_chw_uint8):
        return np.tensordot(img_chw_uint8.numpy().transpose(1, 2, 0), GRAY,
                            axes=1)

    def lp(a, b):
        return loss_fn.forward(a.float()[None], b.float()[None]).item()

    c, h, w = pred.shape
    if c == 3:
        out['SSIM'] = structural_similarity(gray(qp), gray(qg),
                                            data_range=255)
        if loss_fn is not None:
            out['LPIPS'] = lp(qp, qg)
    else:
        ss, ll = [], []
        for i in range(c):
            a, b = qp[i].expand(3, h, w), qg[i].expand(3, h, w)
            ss.append(structural_similarity(gray(a), gray(b), data_range=255))
            if loss_fn is not None:
                ll.append(lp(a, b))
        out['SSIM'] = float(np.mean(ss))
        if loss_fn is not None:
            out['LPIPS'] = float(np.mean(ll))
    return out


def ref_render_diffcr(x):
    """docs/datasets.md §5.7 (the RGB rendering step) in NumPy for one 3×H×W float32 torch image."""
    x = x.numpy()
    v = x * np.float32(0.5) + np.float32(0.5)
    dn = np.clip(v * np.float32(10000) + np.float32(0.5), 0, 10000)
    dn = np.clip(dn.astype(np.int64), 0, 2000).astype(np.float64)
    dn -= dn.min()
    return np.ones_like(dn) if dn.max() == 0 else dn / dn.max()


def ref_float_official(p, t, ssim=None):
    """§4.8 metrics of one C×H×W [0, 1] float64 NumPy pair, per image.
    ``ssim``: the SSIM function (default: the official conv2d loop)."""
    ssim = ssim or torch_conv2d_ssim_gaussian
    rmse = np_rmse(p, t)
    return {'RMSE': rmse, 'MAE': np_mae(p, t),
            'PSNR': float(20 * np.log10(1 / rmse)),
            'SAM': np_sam_degrees(p, t), 'SSIM': ssim(p, t)}
