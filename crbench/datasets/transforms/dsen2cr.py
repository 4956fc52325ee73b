"""Training transforms of DSen2-CR (Meraner et al., ISPRS J. 2020) on SEN12MS-CR.

* ``SentinelCloudShadowMask``: the cloud + cloud-shadow mask that the
  cloud-adaptive regularised loss (CARL, paper Sec. 4.3) needs. SEN12MS-CR has no
  mask, so it is computed from the cloudy Sentinel-2 image itself, in reflectance
  ×10⁴, before any rescaling (paper Sec. 4.3.2; the official data generator does
  the same on each cropped, flipped and rotated training patch).
The crop and the per-band SAR scaling are GLF-CR's too: ``PairedRandomCrop`` (with
``last_offset=False`` for the official offset range) and ``RescaleBandsToSymmetric`` in
``crop_bands.py``. All arrays are H×W×C, as the loaders produce them.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from scipy import ndimage, signal

from crbench.registry import TRANSFORMS

# 0-based band indices of the 13-band Sentinel-2 L1C stack (B1 … B12 with B8A after B8).
B1_AEROSOL, B2_BLUE, B3_GREEN, B4_RED, B8_NIR, B10_CIRRUS, B11_SWIR1 = 0, 1, 2, 3, 7, 10, 11


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at ``lo``, 1 at ``hi``, linear (not clipped; ``hi < lo`` gives a falling ramp)."""
    return (x - lo) / (hi - lo)


def _normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    total = np.where(total == 0, 0.001, total)   # the official guard against 0 / 0
    return (a - b) / total


def cloud_score(reflectance: np.ndarray) -> np.ndarray:
    """Soft cloud score in (0, 1] of a C×H×W reflectance image (values in [0, 1]).

    The score starts at 1 and is lowered by every test a cloud must pass: bright in
    blue and aerosol, bright in aerosol + cirrus, bright in the visible bands, not
    snow (NDSI of green and SWIR); then a 5×5 grey closing and a 7×7 mean filter
    smooth it (paper Sec. 4.3.2, after Schmitt et al. 2019).
    """
    r = reflectance
    score = np.ones(r.shape[1:], dtype=np.float32)
    score = np.minimum(score, _ramp(r[B2_BLUE], 0.1, 0.5))
    score = np.minimum(score, _ramp(r[B1_AEROSOL], 0.1, 0.3))
    score = np.minimum(score, _ramp(r[B1_AEROSOL] + r[B10_CIRRUS], 0.15, 0.2))
    score = np.minimum(score, _ramp(r[B4_RED] + r[B3_GREEN] + r[B2_BLUE], 0.2, 0.8))
    snow = _normalized_difference(r[B3_GREEN], r[B11_SWIR1])
    score = np.minimum(score, _ramp(snow, 0.8, 0.6))
    score = ndimage.grey_closing(score, size=(5, 5))
    score = signal.convolve2d(score, np.full((7, 7), 1 / 49), mode='same')
    return np.clip(score, 1e-5, 1.0)


def shadow_mask(reflectance: np.ndarray) -> np.ndarray:
    """Boolean cloud-shadow mask: dark in NIR + SWIR and in blue relative to the image.

    Thresholds lie at 3/4 (NIR–SWIR mean) and 5/6 (blue) of the way from the image's
    minimum to its mean; a 5×5 median filter removes isolated pixels.
    """
    r = reflectance
    csi = (r[B8_NIR] + r[B11_SWIR1]) / 2
    blue = r[B2_BLUE]
    t_csi = csi.min() + 0.75 * (csi.mean() - csi.min())
    t_blue = blue.min() + 5 / 6 * (blue.mean() - blue.min())
    dark = np.where((csi < t_csi) & (blue < t_blue), -1.0, 0.0).astype(np.float32)
    return signal.medfilt2d(dark, 5) < 0


def cloud_shadow_mask(image_chw: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """1 where cloud (score ≥ ``threshold``) or cloud shadow, else 0; H×W float32.

    ``image_chw`` is a 13-band Sentinel-2 image in reflectance ×10⁴ (SEN12MS-CR's
    digital numbers), before any clipping or rescaling.
    """
    if image_chw.ndim != 3 or image_chw.shape[0] != 13:
        raise ValueError(f'the cloud/shadow mask needs a 13-band Sentinel-2 image (C×H×W), '
                         f'got shape {image_chw.shape}')
    reflectance = np.nan_to_num(image_chw.astype(np.float32)) / 10000.0
    cloud = cloud_score(reflectance) >= threshold
    return (cloud | shadow_mask(reflectance)).astype(np.float32)


@TRANSFORMS.register_module()
class SentinelCloudShadowMask(BaseTransform):
    """Write ``results['mask']`` (H×W×1, 1 = cloud or shadow) from ``results[key]``.

    Place it after cropping and flipping and before rescaling: it reads
    reflectance ×10⁴.
    """

    def __init__(self, key: str = 'cloudy', threshold: float = 0.2, out_key: str = 'mask'):
        self.key, self.threshold, self.out_key = key, float(threshold), out_key

    def transform(self, results: dict) -> dict:
        image = results[self.key]
        if image.ndim != 3:
            raise ValueError(f'SentinelCloudShadowMask needs an H×W×C image at {self.key!r}, '
                             f'got shape {image.shape} ({results.get("cloudy_path")})')
        mask = cloud_shadow_mask(np.moveaxis(image, -1, 0), self.threshold)
        results[self.out_key] = mask[..., None]
        return results
