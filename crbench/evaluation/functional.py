"""Batched image-quality metrics on ``B×C×H×W`` tensors, one value per image.

Every function takes ``pred`` and ``gt`` of identical shape ``B×C×H×W`` and
returns a ``float64`` tensor of shape ``[B]``. The arithmetic is done in
``float64`` so that the values agree with the NumPy/scikit-image references the
official evaluators call (``docs/datasets.md`` §6) to about 1e-12.

Formulas and their sources (section numbers refer to docs/datasets.md):

* ``rmse``, ``mae``, ``psnr``: §6 "RMSE", "MAE", "PSNR (float)/(uint8)".
* ``sam_degrees``: §4.8 item 4 (EMRDM/UnCRtainTS spectral angle mapper).
* ``ssim_gaussian``: §4.8 item 5 (EMRDM ``pytorch_ssim``).
* ``ssim_uniform``: §2.8 item 5 (scikit-image ``structural_similarity``
  defaults, as called by the CUHK/RICE evaluators).
"""
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = [
    'rmse', 'mae', 'mse', 'psnr', 'sam_degrees', 'gaussian_taps',
    'gaussian_window', 'separable_filter', 'ssim_gaussian_map',
    'ssim_gaussian', 'ssim_uniform_map', 'ssim_uniform', 'window_sum',
    'ssim_uniform_integer'
]


def _check_pair(pred: torch.Tensor, gt: torch.Tensor) -> None:
    """Raise a clear error unless ``pred`` and ``gt`` are equal-shape 4-D."""
    for key, t in (('pred', pred), ('gt', gt)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f'{key} must be a torch.Tensor, got {type(t)}')
        if t.dim() != 4:
            raise ValueError(
                f'{key} must be a B×C×H×W tensor, got shape {tuple(t.shape)}; '
                'add a batch axis with .unsqueeze(0) for a single image')
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {tuple(pred.shape)} differs from gt '
                         f'shape {tuple(gt.shape)}; both must be B×C×H×W')


def _f64(pred: torch.Tensor, gt: torch.Tensor):
    _check_pair(pred, gt)
    return pred.to(torch.float64), gt.to(torch.float64)


def mse(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all bands and pixels (§6, pooled).

    Integer images (the uint8 ones of the CUHK evaluator) are summed exactly
    in int64, which is what a float64 sum of their squared differences
    gives too (integers below 2**53), without the float64 copies.
    """
    _check_pair(pred, gt)
    if not pred.is_floating_point() and not gt.is_floating_point():
        d = pred.to(torch.int32) - gt.to(torch.int32)
        n = d[0].numel()
        return (d * d).flatten(1).sum(1, dtype=torch.int64).to(
            torch.float64) / n
    p, g = _f64(pred, gt)
    return (p - g).pow(2).flatten(1).mean(1)


def rmse(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """RMSE = sqrt(mean over C,H,W of (gt - pred)^2) (§6 "RMSE")."""
    return mse(pred, gt).sqrt()


def mae(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """MAE = mean over C,H,W of |gt - pred| (§6 "MAE")."""
    p, g = _f64(pred, gt)
    return (p - g).abs().flatten(1).mean(1)


def psnr(pred: torch.Tensor, gt: torch.Tensor,
         data_range: float) -> torch.Tensor:
    """PSNR = 10·log10(R² / MSE), MSE pooled over all bands (§6).

    With ``data_range=1`` this equals 20·log10(1/RMSE) (§4.8 item 3); with
    ``data_range=255`` on uint8-valued images it is scikit-image's
    ``peak_signal_noise_ratio`` (§2.8 item 4). Identical images give ``inf``,
    exactly as the references do.
    """
    if data_range <= 0:
        raise ValueError(f'data_range must be positive, got {data_range}')
    return 10.0 * torch.log10(float(data_range)**2 / mse(pred, gt))


def sam_degrees(pred: torch.Tensor, gt: torch.Tensor,
                eps: Optional[float] = None) -> torch.Tensor:
    """Mean spectral angle in degrees over pixels (§4.8 item 4).

    cos θ = <t, p> / (‖t‖ ‖p‖) over the band axis, clamped to [-1, 1], then
    θ = arccos(cos θ)·180/π averaged over H×W.

    ``eps=None`` reproduces EMRDM: a pixel whose target or prediction vector
    is all zero gives 0/0 = NaN, which makes the image's SAM NaN (it is then
    skipped by the NaN-skipping mean over the test set). With a float ``eps``
    the denominator is clamped below at ``eps``: such a pixel then has
    cos θ = 0, i.e. counts as 90°, and the value is always finite.
    """
    p, g = _f64(pred, gt)
    dot = (g * p).sum(1)
    norm = g.pow(2).sum(1).sqrt() * p.pow(2).sum(1).sqrt()
    if eps is not None:
        norm = norm.clamp_min(eps)
    cos = (dot / norm).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos)).flatten(1).mean(1)


def gaussian_taps(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian g_i ∝ exp(-(i - size//2)² / 2σ²), float64."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-x.pow(2) / (2.0 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 2-D Gaussian g gᵀ (the window is separable: see
    :func:`gaussian_taps`)."""
    g = gaussian_taps(size, sigma)
    return torch.outer(g, g)


BACKENDS = ('auto', 'scipy', 'torch')


def _resolve_backend(x: torch.Tensor, backend: str) -> str:
    """``auto`` is ``torch`` on every device: on CPU its shifted sums were
    1.9–2.2× (Gaussian) and 3× (box) faster than SciPy's line filters."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'auto':
        return 'torch'
    if backend == 'scipy' and x.device.type != 'cpu':
        raise ValueError(f'backend "scipy" needs CPU tensors, got device '
                         f'{x.device}; use backend "torch" or "auto"')
    return backend


def _torch_filter1d(x: torch.Tensor, taps: torch.Tensor, dim: int,
                    padding: int) -> torch.Tensor:
    """Σ_i taps[i]·x[j + i − padding] along ``dim`` (zeros outside x).

    A sum of k shifted, scaled copies: plain element-wise kernels, so it
    runs in float64 on any device (float64 convolutions are slow on CPU
    and on most GPUs). Terms that fall in the zero padding are skipped
    instead of added as zeros: no padded copy of x, the same sums in the
    same order.
    """
    k = taps.numel()
    axis = dim % x.dim()
    length = x.shape[axis]
    n = length + 2 * padding - k + 1
    out = x.new_empty(x.shape[:axis] + (n, ) + x.shape[axis + 1:])
    for i in range(k):
        shift = i - padding  # out[j] += taps[i]·x[j + shift]
        start = min(n, max(0, -shift))
        stop = max(start, min(n, length - shift))
        if i == 0:  # outputs whose first term lies in the padding
            out.narrow(axis, 0, start).zero_()
            out.narrow(axis, stop, n - stop).zero_()
        if stop == start:
            continue
        dst = out.narrow(axis, start, stop - start)
        src = x.narrow(axis, start + shift, stop - start)
        if i == 0:
            dst.copy_(src).mul_(float(taps[0]))
        else:
            dst.add_(src, alpha=float(taps[i]))
    return out


def window_sum(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Sums of ``size`` consecutive elements along ``dim`` (valid part only).

    Built from sums of 1, 2, 4, … elements (binary digits of ``size``):
    about log2(size) + popcount(size) element-wise additions instead of
    ``size``. Exact for integer tensors, so an integer image gives exact
    window sums.
    """
    n = x.shape[dim] - size + 1
    if size < 1 or n < 1:
        raise ValueError(f'window of {size} does not fit in {x.shape[dim]} '
                         f'elements along dim {dim}')
    total, offset, block, length, rest = None, 0, x, 1, size
    while True:
        if rest & 1:  # add the block of ``length`` elements starting here
            part = block.narrow(dim, offset, n)
            total = part.clone() if total is None else total.add_(part)
            offset += length
        rest >>= 1
        if not rest:
            return total
        m = block.shape[dim] - length
        block = block.narrow(dim, 0, m) + block.narrow(dim, length, m)
        length *= 2


def separable_filter(x: torch.Tensor, taps: torch.Tensor, valid: bool,
                     box: bool = False, backend: str = 'auto',
                     overwrite_input: bool = False) -> torch.Tensor:
    """Filter the last two axes of float64 ``x`` with the window taps tapsᵀ.

    ``valid=False``: zero padding of ``len(taps)//2``, output size = input
    size (EMRDM's ``pytorch_ssim`` convolution). ``valid=True``: only the
    outputs whose window lies inside the image, (H−k+1)×(W−k+1). The 2-D
    window is the outer product of the symmetric 1-D ``taps``, so two 1-D
    passes give the 2-D depthwise convolution (k² → 2k products a pixel).

    Backends: ``scipy`` (``scipy.ndimage``, CPU; ``box=True`` uses
    ``uniform_filter1d``, the filter scikit-image's SSIM applies, for a
    window of equal taps) and ``torch`` (shifted sums, any device; a valid
    box window as :func:`window_sum` along both axes). ``auto`` is
    ``torch``.
    ``overwrite_input=True`` lets the SciPy path reuse x's memory.
    """
    k = taps.numel()
    r = k // 2
    if _resolve_backend(x, backend) == 'torch':
        if box and valid:
            return window_sum(window_sum(x, k, -1), k, -2).mul_(
                float(taps[0])**2)
        taps = taps.to(x.device, torch.float64)
        pad = 0 if valid else r
        return _torch_filter1d(_torch_filter1d(x, taps, -1, pad), taps, -2,
                               pad)
    from scipy import ndimage  # lazily: only the CPU path needs it
    a = x.detach().contiguous().numpy()
    # The second pass writes into a fresh array when x must stay intact,
    # else back into x's buffer (one large allocation fewer).
    out = a if overwrite_input else None
    if box:
        # valid outputs never see the border, so the mode is irrelevant
        y = ndimage.uniform_filter1d(a, k, axis=-1, mode='constant')
        y = ndimage.uniform_filter1d(y, k, axis=-2, mode='constant',
                                     output=out)
    else:
        w = taps.detach().to('cpu', torch.float64).numpy()
        y = ndimage.correlate1d(a, w, axis=-1, mode='constant', cval=0.0)
        y = ndimage.correlate1d(y, w, axis=-2, mode='constant', cval=0.0,
                                output=out)
    if valid:
        y = y[..., r:y.shape[-2] - r, r:y.shape[-1] - r]
    return torch.from_numpy(y)


def _ssim_map(p: torch.Tensor, g: torch.Tensor, taps: torch.Tensor,
              valid: bool, box: bool, data_range: float, k1: float,
              k2: float, cov_norm: float, backend: str) -> torch.Tensor:
    """SSIM map (Wang et al. 2004) with local statistics from taps tapsᵀ.

    μ = w*x, σ² = cov_norm·(w*x² − μ²), σ_xy = cov_norm·(w*xy − μ_x μ_y),
    SSIM = (2μ_xμ_y + C1)(2σ_xy + C2) / ((μ_x² + μ_y² + C1)(σ_x² + σ_y² + C2))
    with C1 = (K1·R)², C2 = (K2·R)² (§6 SSIM rows). σ_x² and σ_y² appear
    only as their sum, so four local means are filtered — of x, y, x² + y²
    and xy — in one call on a stacked 4×B×C×H×W array.
    """
    x = torch.empty((4, ) + p.shape, dtype=torch.float64, device=p.device)
    x[0], x[1] = p, g
    torch.mul(p, p, out=x[2]).addcmul_(g, g)
    torch.mul(p, g, out=x[3])
    stats = separable_filter(x, taps, valid, box, backend,
                             overwrite_input=True)
    mu_p, mu_g, sq, cov = stats.unbind(0)
    c1 = (k1 * data_range)**2
    c2 = (k2 * data_range)**2
    # In place (large maps, one temporary):
    #   num = (2 μ_p μ_g + C1)(2 σ_pg + C2),
    #   den = (μ_p² + μ_g² + C1)(σ_p² + σ_g² + C2).
    mpg = mu_p * mu_g
    mu_p.square_().add_(mu_g.square_())  # μ_p² + μ_g²
    sq.sub_(mu_p)  # σ_p² + σ_g²
    cov.sub_(mpg)
    if cov_norm != 1.0:  # sample covariance
        sq.mul_(cov_norm)
        cov.mul_(cov_norm)
    num = mpg.mul_(2).add_(c1).mul_(cov.mul_(2).add_(c2))
    den = mu_p.add_(c1).mul_(sq.add_(c2))
    return num.div_(den).to(p.device)


# Values per call of the mean SSIMs: one 256² band map. Every SSIM window
# is per band, so a batch is split into band maps; their four float64
# statistics then stay in the CPU caches (13 bands of 8 images: 2.3× faster
# than one image per call; one map per call 1.2–1.4× faster than two on an
# AMD Zen 4).
_CHUNK_ELEMENTS = 256 * 256


def _chunked_mean(fn, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Per-image mean of the map ``fn(p, g)`` over bands and pixels (every
    band has the same number of pixels: the mean of the band means). On CPU
    a few band maps per call, to stay in the caches; elsewhere one call."""
    b, c, h, w = p.shape
    p, g = p.reshape(b * c, 1, h, w), g.reshape(b * c, 1, h, w)
    step = b * c  # one call on a GPU
    if p.device.type == 'cpu':  # cache blocking
        step = max(1, _CHUNK_ELEMENTS // max(1, h * w))
    per_band = torch.cat([
        fn(p[i:i + step], g[i:i + step]).mean(dim=(1, 2, 3))
        for i in range(0, b * c, step)
    ])
    return per_band.view(b, c).mean(1)


def _check_window(pred: torch.Tensor, win_size: int) -> None:
    if win_size % 2 != 1 or win_size < 1:
        raise ValueError(f'win_size must be a positive odd int, '
                         f'got {win_size}')
    h, w = pred.shape[-2:]
    if min(h, w) < win_size:
        raise ValueError(f'image of size {h}×{w} is smaller than the SSIM '
                         f'window {win_size}×{win_size}; use larger images')


def ssim_gaussian_map(pred: torch.Tensor, gt: torch.Tensor,
                      data_range: float = 1.0, win_size: int = 11,
                      sigma: float = 1.5, k1: float = 0.01,
                      k2: float = 0.03, backend: str = 'auto'
                      ) -> torch.Tensor:
    """Full-size SSIM map B×C×H×W of the EMRDM ``pytorch_ssim`` (§4.8 item 5).

    Gaussian window ``win_size``×``win_size`` (σ = ``sigma``), each channel
    filtered separately (depthwise convolution) with zero padding of
    ``win_size // 2``, population (not sample) covariance. Computed with the
    separable window (:func:`separable_filter`, ``backend``).
    """
    p, g = _f64(pred, gt)
    _check_window(p, win_size)
    taps = gaussian_taps(win_size, sigma)
    return _ssim_map(p, g, taps, False, False, data_range, k1, k2, 1.0,
                     backend)


def ssim_gaussian(pred: torch.Tensor, gt: torch.Tensor,
                  data_range: float = 1.0, win_size: int = 11,
                  sigma: float = 1.5, backend: str = 'auto') -> torch.Tensor:
    """EMRDM SSIM: mean of :func:`ssim_gaussian_map` over C, H, W (§4.8)."""
    p, g = _f64(pred, gt)
    return _chunked_mean(
        lambda a, b: ssim_gaussian_map(a, b, data_range, win_size, sigma,
                                       backend=backend), p, g)


def ssim_uniform_map(pred: torch.Tensor, gt: torch.Tensor, data_range: float,
                     win_size: int = 7, k1: float = 0.01,
                     k2: float = 0.03, backend: str = 'auto') -> torch.Tensor:
    """Valid-region SSIM map B×C×(H−w+1)×(W−w+1), scikit-image defaults.

    ``win_size``² uniform window, sample covariance N/(N−1) with N = win²,
    per channel on 2-D images (§2.8 item 5). scikit-image filters the whole
    image and then crops (win_size−1)//2 pixels on every side before
    averaging; the remaining pixels are exactly those whose window lies
    inside the image, i.e. a convolution without padding.
    """
    if data_range is None or data_range <= 0:
        raise ValueError(f'data_range must be positive, got {data_range}')
    p, g = _f64(pred, gt)
    _check_window(p, win_size)
    taps = torch.full((win_size, ), 1.0 / win_size, dtype=torch.float64)
    n = win_size**2
    return _ssim_map(p, g, taps, True, True, data_range, k1, k2,
                     n / (n - 1.0), backend)


def ssim_uniform_integer(pred: torch.Tensor, gt: torch.Tensor,
                         data_range: float, scale: float = 1.0,
                         win_size: int = 7, k1: float = 0.01,
                         k2: float = 0.03) -> torch.Tensor:
    """:func:`ssim_uniform` of ``scale·pred`` and ``scale·gt`` for integer
    images (uint8 and the like), one value per image.

    The window sums S_p, S_g, S_pp, S_gg, S_pg are exact integers (int32),
    so μ = scale·S/n and σ² = scale²·(n·S_pp − S_p²)/(n(n−1)) (sample
    covariance, N = n = win²) carry no cancellation error: the result equals
    scikit-image on the float image ``scale·x`` up to scikit-image's own
    rounding (≤ 1e-13 relative, tested). ``scale`` is the factor the CUHK
    evaluator's gray conversion applies to a replicated band (1.000001).
    """
    _check_pair(pred, gt)
    if pred.is_floating_point() or gt.is_floating_point():
        raise TypeError(f'ssim_uniform_integer needs integer images, got '
                        f'{pred.dtype} and {gt.dtype}; use ssim_uniform')
    if data_range is None or data_range <= 0:
        raise ValueError(f'data_range must be positive, got {data_range}')
    _check_window(pred, win_size)
    n = win_size**2
    limit = int(((2**31 - 1) // n)**0.5)
    for key, t in (('pred', pred), ('gt', gt)):
        if t.dtype == torch.uint8 and limit >= 255:
            continue
        if t.numel() and int(t.abs().max()) > limit:
            raise ValueError(
                f'{key} has values above {limit}: its {win_size}×{win_size} '
                'window sums of squares overflow int32; use ssim_uniform on '
                'float64 images')
    c1 = (k1 * data_range)**2
    c2 = (k2 * data_range)**2

    var_scale = scale * scale / (n * (n - 1.0))

    def one_chunk(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        p, g = p.to(torch.int32), g.to(torch.int32)
        x = torch.stack([p, g, p * p, g * g, p * g])
        s = window_sum(window_sum(x, win_size, -1), win_size, -2)
        sp, sg, spp, sgg, spg = s.to(torch.float64).unbind(0)
        # n·S_xy − S_x·S_y are integers below 2**53: exact in float64.
        cov = spg.mul_(n).sub_(sp * sg).mul_(2 * var_scale).add_(c2)
        var = spp.mul_(n).sub_(sp * sp).add_(sgg.mul_(n).sub_(sg * sg))
        var.mul_(var_scale).add_(c2)
        mu_p, mu_g = sp.mul_(scale / n), sg.mul_(scale / n)
        num = (mu_p * mu_g).mul_(2).add_(c1).mul_(cov)
        den = mu_p.square_().add_(mu_g.square_()).add_(c1).mul_(var)
        return num.div_(den)

    return _chunked_mean(one_chunk, pred, gt)


def ssim_uniform(pred: torch.Tensor, gt: torch.Tensor, data_range: float,
                 win_size: int = 7, backend: str = 'auto') -> torch.Tensor:
    """Mean of :func:`ssim_uniform_map` over channels and valid pixels.

    Equals the mean over channels of ``skimage.metrics.structural_similarity``
    computed on each 2-D channel with ``data_range`` (all channels have the
    same number of valid pixels, so the pooled mean is the channel mean).
    """
    p, g = _f64(pred, gt)
    return _chunked_mean(
        lambda a, b: ssim_uniform_map(a, b, data_range, win_size,
                                      backend=backend), p, g)
