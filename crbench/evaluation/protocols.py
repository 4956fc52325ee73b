"""Named evaluation protocols: how each benchmark scores [-1, 1] tensors.

Every protocol takes ``pred`` and ``gt`` as ``B×C×H×W`` tensors in [-1, 1]
(the crbench convention, ``docs/contracts.md``) and returns a dict
``metric name -> float64 Tensor[B]`` (one value per image). The test-set value
is the NaN-skipping mean of the per-image values (:func:`nanmean_results`;
docs/datasets.md §6, "Aggregation").

``metrics`` maps each metric name to ``True`` if higher is better.
LPIPS is returned only when an ``lpips_model`` is passed; the caller decides
whether that model may be reported as ``LPIPS`` (see ``metric.CRMetric``).

Protocols (section numbers refer to ``docs/datasets.md``):

* ``cuhk_official``: §2.8 / §3.7 (CUHK-CR, RICE; EMRDM/DE evaluator).
* ``sen12mscr_official``: §4.8 (EMRDM ``metrics.py`` on SEN12MS-CR).
* ``sen2mtc_official``: §5.7 (EMRDM on Sen2_MTC_New, DiffCR RGB rendering).
* ``standard``: crbench's own, methodologically clean protocol.
"""
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import torch

from . import functional as M
from .lpips_metric import lpips_distance

__all__ = [
    'BaseProtocol', 'CUHKOfficialProtocol', 'SEN12MSCROfficialProtocol',
    'Sen2MTCOfficialProtocol', 'StandardProtocol', 'PROTOCOLS',
    'get_protocol', 'nanmean_results', 'quantize_uint8_official',
    'gray_official', 'gray_per_band_official', 'render_rgb_diffcr'
]

Results = Dict[str, torch.Tensor]

# Images per ``compute`` call on CPU: about one 13-band or four 3-band 256²
# images (see BaseProtocol._compute_in_chunks).
CHUNK_ELEMENTS = 1_000_000

# Gray weights of the CUHK evaluator (§2.8 item 5); they sum to 1.000001.
GRAY_WEIGHTS = (0.298912, 0.586611, 0.114478)
# What the gray conversion makes of a band replicated to 3 channels: 1.000001.
GRAY_SUM = (GRAY_WEIGHTS[0] + GRAY_WEIGHTS[1]) + GRAY_WEIGHTS[2]


def _check_inputs(pred: torch.Tensor, gt: torch.Tensor) -> None:
    M._check_pair(pred, gt)
    if not pred.is_floating_point() or not gt.is_floating_point():
        raise TypeError(f'pred ({pred.dtype}) and gt ({gt.dtype}) must be '
                        'floating-point tensors in [-1, 1]')


def _lpips_batch(model: torch.nn.Module, pred: torch.Tensor,
                 gt: torch.Tensor) -> torch.Tensor:
    """LPIPS of N×3×H×W (or N×1×H×W: a band replicated to 3 channels) float
    inputs as given (lpips normalize=False), all N pairs in one call
    (:func:`~crbench.evaluation.lpips_metric.lpips_distance`). Returns
    float64 values on ``pred``'s device.
    """
    device = next(model.parameters()).device
    with torch.inference_mode():
        d = lpips_distance(model, pred.to(device, torch.float32),
                           gt.to(device, torch.float32))
    return d.flatten().to(pred.device, torch.float64)


class BaseProtocol:
    """A protocol: ``name``, ``metrics``, ``__call__(pred, gt, lpips_model)``."""

    name: str = ''
    metrics: Dict[str, bool] = {}
    uses_lpips: bool = False

    def __init__(self, backend: str = 'auto'):
        """``backend`` of the float SSIM filters: ``auto``, ``scipy`` or
        ``torch`` (see :func:`crbench.evaluation.functional.separable_filter`).
        The uint8 SSIM of ``cuhk_official`` uses exact integer window sums in
        torch on any device."""
        if backend not in M.BACKENDS:
            raise ValueError(f'backend must be one of {M.BACKENDS}, got '
                             f'{backend!r}')
        self.backend = backend

    def __call__(self, pred: torch.Tensor, gt: torch.Tensor,
                 lpips_model: Optional[torch.nn.Module] = None) -> Results:
        """Per-image values of a B×C×H×W batch, on ``pred``'s device."""
        _check_inputs(pred, gt)
        gt = gt.to(pred.device)
        with torch.inference_mode():
            out = self._compute_in_chunks(pred, gt)
            if self.uses_lpips and lpips_model is not None:
                out['LPIPS'] = self.lpips(pred, gt, lpips_model)
        return out

    def _compute_in_chunks(self, pred: torch.Tensor, gt: torch.Tensor) -> Results:
        """``compute`` on a few images at a time (all bands at once).

        The float64 intermediates of a whole batch of 8 multispectral images
        are hundreds of MB; in chunks of about ``CHUNK_ELEMENTS`` they stay
        near the CPU caches, so a batch costs what its images cost one by
        one (measured: 1.5–2× less than in one piece at batch 8). On GPUs
        the batch is computed in one piece.
        """
        step = pred.shape[0]
        if pred.device.type == 'cpu':
            step = max(1, CHUNK_ELEMENTS // max(1, pred[0].numel()))
        if step >= pred.shape[0]:
            return self.compute(pred, gt)
        parts = [self.compute(pred[i:i + step], gt[i:i + step])
                 for i in range(0, pred.shape[0], step)]
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}

    def compute(self, pred: torch.Tensor, gt: torch.Tensor) -> Results:
        raise NotImplementedError

    def lpips(self, pred: torch.Tensor, gt: torch.Tensor,
              lpips_model: torch.nn.Module) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r})'


# --------------------------------------------------------------------------
# cuhk_official (§2.8, §3.7; docs/models.md §4.1)
# --------------------------------------------------------------------------
def quantize_uint8_official(x01: torch.Tensor) -> torch.Tensor:
    """uint8 of the [0,1] image as the official evaluator computes it (§2.8.3).

    The evaluator receives (x+1)/2, maps it back with 2·x−1, then computes
    ((x+1)·127.5).clamp(0, 255).to(uint8) in the tensor's own dtype. The
    uint8 cast TRUNCATES (it does not round). The same chain is kept here so
    that values near integer boundaries fall on the same side.
    """
    return ((x01 * 2 - 1 + 1) * 127.5).clamp(0, 255).to(torch.uint8)


def gray_official(q: torch.Tensor) -> torch.Tensor:
    """Gray image of the CUHK evaluator in float64 (§2.8 item 5, §3.7).

    ``q`` is B×3×H×W: returns Σ_c w_c·q_c (B×1×H×W). For a single band
    (``q`` B×1×H×W, replicated to 3 channels as the evaluator does) this is
    band·0.298912 + band·0.586611 + band·0.114478 = band·1.000001.
    """
    q = q.to(torch.float64)
    if q.shape[1] == 1:
        return gray_per_band_official(q)
    if q.shape[1] != 3:
        raise ValueError(f'gray_official needs 1 or 3 channels, got '
                         f'{q.shape[1]}')
    w0, w1, w2 = GRAY_WEIGHTS
    return (q[:, 0:1] * w0 + q[:, 1:2] * w1) + q[:, 2:3] * w2


def gray_per_band_official(q: torch.Tensor) -> torch.Tensor:
    """Gray of every band replicated to 3 channels, all bands at once.

    B×C×H×W -> B×C×H×W float64, band·w0 + band·w1 + band·w2 in the
    evaluator's order of operations (so the sum is rounded as it is there).
    """
    if q.dtype == torch.uint8:  # 256 possible values: look them up
        return _gray_lut(q.device)[q.long()]
    q = q.to(torch.float64)
    w0, w1, w2 = GRAY_WEIGHTS
    return (q * w0 + q * w1) + q * w2


def _gray_lut(device) -> torch.Tensor:
    """band·w0 + band·w1 + band·w2 (float64) for band = 0 … 255."""
    v = torch.arange(256, dtype=torch.float64, device=device)
    w0, w1, w2 = GRAY_WEIGHTS
    return (v * w0 + v * w1) + v * w2


class CUHKOfficialProtocol(BaseProtocol):
    """EMRDM/DE evaluator for CUHK-CR (4 bands) and RICE (3 bands).

    * RMSE on the unclamped (x+1)/2 floats (§2.8.2).
    * PSNR on truncated uint8, MSE pooled over all bands, data_range 255.
    * SSIM: skimage defaults (7×7 uniform, sample covariance), data_range
      255, per band on the gray-replicated band and averaged over bands;
      for 3-band images one SSIM on the luminance (§3.7).
    * LPIPS-alex on uint8 values cast to float 0–255, NOT normalised
      (§2.8.6 quirk): per band (band replicated to 3 channels) averaged over
      bands, or once on RGB for 3-band images.

    Generalisation: the official code handles exactly 4 (per band) or 3
    (luminance) bands at 256×256; here any size works and every band count
    other than 3 uses the per-band branch.
    """

    name = 'cuhk_official'
    metrics = {'PSNR': True, 'SSIM': True, 'LPIPS': False, 'RMSE': False}
    uses_lpips = True

    def compute(self, pred, gt):
        p01, g01 = (pred + 1.0) / 2.0, (gt + 1.0) / 2.0
        qp, qg = quantize_uint8_official(p01), quantize_uint8_official(g01)
        if pred.shape[1] == 3:
            ssim = M.ssim_uniform(gray_official(qp), gray_official(qg), 255,
                                  backend=self.backend)
        else:  # every band's gray image (the band times GRAY_SUM), averaged
            ssim = M.ssim_uniform_integer(qp, qg, 255, scale=GRAY_SUM)
        return {
            'PSNR': M.psnr(qp, qg, data_range=255),
            'SSIM': ssim,
            'RMSE': M.rmse(p01, g01),
        }

    def lpips(self, pred, gt, lpips_model):
        qp = quantize_uint8_official((pred + 1.0) / 2.0).float()
        qg = quantize_uint8_official((gt + 1.0) / 2.0).float()
        if pred.shape[1] == 3:
            return _lpips_batch(lpips_model, qp, qg)
        # B images × C bands -> B·C pairs of replicated bands.
        b, c, h, w = qp.shape
        per_band = _lpips_batch(lpips_model, qp.reshape(b * c, 1, h, w),
                                qg.reshape(b * c, 1, h, w))
        return per_band.view(b, c).mean(1)


# --------------------------------------------------------------------------
# sen12mscr_official (§4.8; docs/models.md §4.2)
# --------------------------------------------------------------------------
def _float_metrics(p01: torch.Tensor, g01: torch.Tensor,
                   sam_eps: Optional[float], backend: str) -> Results:
    """RMSE, MAE, PSNR (peak 1), SAM (degrees) and Gaussian SSIM (§4.8)."""
    return {
        'RMSE': M.rmse(p01, g01),
        'MAE': M.mae(p01, g01),
        'PSNR': M.psnr(p01, g01, data_range=1.0),  # = 20·log10(1/RMSE)
        'SAM': M.sam_degrees(p01, g01, eps=sam_eps),
        'SSIM': M.ssim_gaussian(p01, g01, data_range=1.0, backend=backend),
    }


_FLOAT_METRICS = {'RMSE': False, 'MAE': False, 'PSNR': True, 'SAM': False,
                  'SSIM': True}


class SEN12MSCROfficialProtocol(BaseProtocol):
    """EMRDM on SEN12MS-CR: (x+1)/2 without clamp, all bands, no LPIPS.

    SAM has no epsilon: an all-zero pixel vector makes the image's SAM NaN,
    which the NaN-skipping mean then ignores (§4.8 item 4).
    """

    name = 'sen12mscr_official'
    metrics = dict(_FLOAT_METRICS)
    uses_lpips = False

    def compute(self, pred, gt):
        p01 = (pred.to(torch.float64) + 1.0) / 2.0
        g01 = (gt.to(torch.float64) + 1.0) / 2.0
        return _float_metrics(p01, g01, sam_eps=None, backend=self.backend)


# --------------------------------------------------------------------------
# sen2mtc_official (§5.7)
# --------------------------------------------------------------------------
def render_rgb_diffcr(x: torch.Tensor) -> torch.Tensor:
    """DiffCR-style RGB rendering used by EMRDM on Sen2_MTC_New (§5.7.1).

    Per image of a B×3×H×W [-1,1] tensor: v = 0.5x + 0.5; DN =
    int(clamp(v·10000 + 0.5, 0, 10000)) (truncating cast, i.e. rounding to
    the nearest DN; computed in the input dtype as EMRDM does); clip each
    band to [0, 2000]; subtract the image-wide minimum and divide by the
    image-wide maximum (all ones if that maximum is 0); NaN -> image mean.
    Returns float64 in [0, 1]; no uint8 step.
    """
    # the same float operations in place (the rounding of each step counts)
    dn = x.mul(0.5).add_(0.5).mul_(10000).add_(0.5).clamp_(0, 10000)
    dn = dn.to(torch.long).clamp_(0, 2000).to(torch.float64)
    dn = dn.sub_(dn.amin(dim=(1, 2, 3), keepdim=True))
    peak = dn.amax(dim=(1, 2, 3), keepdim=True)
    # A zero peak means a constant image (dn all 0): rendered as all ones.
    # (After the integer cast there is no NaN, so the NaN -> mean step never
    # applies.)
    flat = peak == 0
    return dn.div_(peak.masked_fill(flat, 1.0)).masked_fill_(flat, 1.0)


class Sen2MTCOfficialProtocol(BaseProtocol):
    """EMRDM on Sen2_MTC_New: §4.8 metrics on the rendered RGB + LPIPS.

    LPIPS-alex receives 2·r − 1 of the rendered [0,1] images, i.e. properly
    scaled [-1, 1] input (§5.7.2).
    """

    name = 'sen2mtc_official'
    metrics = dict(_FLOAT_METRICS, LPIPS=False)
    uses_lpips = True

    @staticmethod
    def _check_rgb(pred):
        if pred.shape[1] != 3:
            raise ValueError(
                f'sen2mtc_official expects the 3 RGB bands (Sen2_MTC_New '
                f'targets are RGB), got {pred.shape[1]} bands')

    def compute(self, pred, gt):
        self._check_rgb(pred)
        return _float_metrics(render_rgb_diffcr(pred), render_rgb_diffcr(gt),
                              sam_eps=None, backend=self.backend)

    def lpips(self, pred, gt, lpips_model):
        self._check_rgb(pred)
        rp, rg = render_rgb_diffcr(pred), render_rgb_diffcr(gt)
        return _lpips_batch(lpips_model, 2 * rp - 1, 2 * rg - 1)


# --------------------------------------------------------------------------
# standard (crbench)
# --------------------------------------------------------------------------
class StandardProtocol(BaseProtocol):
    """crbench's recommended protocol, comparable across datasets.

    * Images (x+1)/2 clamped to [0, 1]; no quantisation; float64 math.
    * PSNR with peak 1 (MSE pooled over all bands), Gaussian SSIM per band
      (11×11, σ 1.5, data range 1), RMSE, MAE, SAM with ``sam_eps`` (an
      all-zero pixel counts as 90° instead of making the image NaN).
    * LPIPS-alex on three bands selected by ``rgb_bands`` (default
      ``(0, 1, 2)``), fed as 2·x − 1 of the clamped image, i.e. in [-1, 1] as
      LPIPS expects. Single-band images are replicated to 3 channels. For
      SEN12MS-CR (13 bands) the default first three bands are B1, B2, B3,
      which are NOT RGB: configure ``rgb_bands=(3, 2, 1)`` (B4, B3, B2); for
      CUHK-CR (R, G, B, NIR) and Sen2_MTC_New the default is RGB.
    """

    name = 'standard'
    metrics = dict(_FLOAT_METRICS, LPIPS=False)
    uses_lpips = True

    def __init__(self, rgb_bands: Sequence[int] = (0, 1, 2),
                 sam_eps: float = 1e-12, backend: str = 'auto'):
        super().__init__(backend)
        rgb_bands = tuple(int(b) for b in rgb_bands)
        if len(rgb_bands) != 3:
            raise ValueError(f'rgb_bands must list 3 band indices, got '
                             f'{rgb_bands}')
        self.rgb_bands = rgb_bands
        self.sam_eps = float(sam_eps)

    @staticmethod
    def _to01(x):
        return ((x.to(torch.float64) + 1.0) / 2.0).clamp(0.0, 1.0)

    def compute(self, pred, gt):
        return _float_metrics(self._to01(pred), self._to01(gt),
                              sam_eps=self.sam_eps, backend=self.backend)

    def _rgb(self, x01):
        c = x01.shape[1]
        if c == 1:
            return x01.expand(-1, 3, -1, -1)
        if max(self.rgb_bands) >= c or min(self.rgb_bands) < -c:
            raise ValueError(
                f'rgb_bands={self.rgb_bands} is out of range for {c}-band '
                'images; set the protocol option rgb_bands to valid indices')
        return x01[:, list(self.rgb_bands)]

    def lpips(self, pred, gt, lpips_model):
        rp, rg = self._rgb(self._to01(pred)), self._rgb(self._to01(gt))
        return _lpips_batch(lpips_model, 2 * rp - 1, 2 * rg - 1)


# --------------------------------------------------------------------------
# registry and aggregation
# --------------------------------------------------------------------------
PROTOCOLS = {
    cls.name: cls
    for cls in (CUHKOfficialProtocol, SEN12MSCROfficialProtocol,
                Sen2MTCOfficialProtocol, StandardProtocol)
}


def get_protocol(name: str, **options) -> BaseProtocol:
    """Instantiate the protocol called ``name`` (options: see its class)."""
    if name not in PROTOCOLS:
        raise KeyError(f'unknown evaluation protocol {name!r}; valid names: '
                       f'{sorted(PROTOCOLS)}')
    try:
        return PROTOCOLS[name](**options)
    except TypeError as err:
        raise TypeError(f'bad options {sorted(options)} for protocol '
                        f'{name!r}: {err}') from err


def nanmean_results(per_image: Iterable[Mapping[str, float]]
                    ) -> Dict[str, float]:
    """Mean of each metric over images, skipping NaN (§6 "Aggregation").

    A metric that is NaN for every image stays NaN. ``inf`` (e.g. the PSNR
    of an exact reconstruction) is kept, as in the official running means.
    """
    values: Dict[str, List[float]] = {}
    for row in per_image:
        for key, val in row.items():
            values.setdefault(key, []).append(float(val))
    out = {}
    for key, vals in values.items():
        kept = [v for v in vals if not math.isnan(v)]
        out[key] = sum(kept) / len(kept) if kept else float('nan')
    return out
