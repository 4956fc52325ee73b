"""crbench.evaluation.functional against scikit-image, SciPy and NumPy."""
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from crbench.evaluation import functional as F

from .references import np_mae, np_rmse, np_sam_degrees, np_ssim_gaussian


def _pair(shape=(3, 4, 64, 64), seed=0, uint8=False):
    rng = np.random.default_rng(seed)
    if uint8:
        a = rng.integers(0, 256, shape).astype(np.uint8)
        # correlated second image so SSIM is far from 0
        noise = rng.integers(-30, 31, shape)
        b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    else:
        a = rng.random(shape)
        b = np.clip(a + 0.1 * rng.standard_normal(shape), 0, 1)
    return a, b


def _hwc(x):
    return np.moveaxis(x, 0, -1)


@pytest.mark.parametrize('uint8', [False, True])
def test_psnr_matches_skimage(uint8):
    a, b = _pair(uint8=uint8)
    rng = 255 if uint8 else 1.0
    ours = F.psnr(torch.from_numpy(a), torch.from_numpy(b), data_range=rng)
    assert ours.dtype == torch.float64 and ours.shape == (3, )
    for i in range(3):
        ref = peak_signal_noise_ratio(_hwc(b[i]), _hwc(a[i]), data_range=rng)
        assert abs(ours[i].item() - ref) <= 1e-6


def test_psnr_identical_is_inf_like_skimage():
    a, _ = _pair(uint8=True, shape=(1, 3, 16, 16))
    t = torch.from_numpy(a)
    assert torch.isinf(F.psnr(t, t, 255)).all()


@pytest.mark.parametrize('uint8', [False, True])
@pytest.mark.parametrize('shape', [(3, 4, 64, 64), (2, 1, 40, 57)])
def test_ssim_uniform_matches_skimage(uint8, shape):
    a, b = _pair(shape=shape, uint8=uint8, seed=1)
    rng = 255 if uint8 else 1.0
    ours = F.ssim_uniform(torch.from_numpy(a), torch.from_numpy(b), rng)
    for i in range(shape[0]):
        if shape[1] == 1:  # plain 2-D image
            ref = structural_similarity(a[i, 0], b[i, 0], data_range=rng)
        else:
            ref = structural_similarity(_hwc(a[i]), _hwc(b[i]),
                                        data_range=rng, channel_axis=-1)
        assert abs(ours[i].item() - ref) <= 1e-10 * abs(ref), (i, ref)


def test_ssim_uniform_is_not_gaussian_or_population():
    # Guards against silently using another variant: the differences exceed
    # the 1e-6 tolerance used above. (The covariance factor 49/48 cancels in
    # the structure term except through C2, hence the small difference.)
    rng = np.random.default_rng(2)
    a, b = rng.random((2, 4, 64, 64))  # weakly related images
    b = 0.5 * a + 0.5 * b
    ours = F.ssim_uniform(torch.from_numpy(a[None]), torch.from_numpy(b[None]),
                          1.0)[0].item()
    kw = dict(data_range=1.0, channel_axis=-1)
    pop = structural_similarity(_hwc(a), _hwc(b), use_sample_covariance=False,
                                **kw)
    gauss = structural_similarity(_hwc(a), _hwc(b), gaussian_weights=True,
                                  sigma=1.5, **kw)
    assert abs(ours - pop) > 1e-5 and abs(ours - gauss) > 1e-3


def test_ssim_gaussian_interior_matches_skimage():
    """skimage's Gaussian SSIM filters with mode='reflect' and then crops
    (win-1)//2 = 5 pixels per side before averaging; on that interior every
    11×11 window lies inside the image, so padding (ours: zeros) cannot
    matter. Compare our full map cropped the same way."""
    a, b = _pair(seed=3)
    smap = F.ssim_gaussian_map(torch.from_numpy(a), torch.from_numpy(b), 1.0)
    assert smap.shape == a.shape
    inner = smap[..., 5:-5, 5:-5].flatten(1).mean(1)
    for i in range(a.shape[0]):
        ref = structural_similarity(_hwc(a[i]), _hwc(b[i]), data_range=1.0,
                                    channel_axis=-1, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False)
        assert abs(inner[i].item() - ref) <= 1e-10 * abs(ref)


def test_ssim_gaussian_full_matches_scipy_zero_padding():
    """Border included: a SciPy re-computation with mode='constant' (zeros),
    as EMRDM's pytorch_ssim pads its convolution with zeros."""
    a, b = _pair(seed=4)
    ours = F.ssim_gaussian(torch.from_numpy(a), torch.from_numpy(b))
    for i in range(a.shape[0]):
        assert abs(ours[i].item() - np_ssim_gaussian(a[i], b[i])) <= 1e-10
    # and the border handling matters, so the test above is meaningful
    ref_reflect = structural_similarity(
        _hwc(a[0]), _hwc(b[0]), data_range=1.0, channel_axis=-1,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert abs(ours[0].item() - ref_reflect) > 1e-4


def test_ssim_gaussian_data_range_scales_constants():
    a, b = _pair(seed=5, shape=(1, 2, 32, 32))
    one = F.ssim_gaussian(torch.from_numpy(a), torch.from_numpy(b), 1.0)
    k = F.ssim_gaussian(torch.from_numpy(a * 255), torch.from_numpy(b * 255),
                        255.0)
    torch.testing.assert_close(one, k, rtol=0, atol=1e-10)


def test_rmse_mae_match_numpy():
    a, b = _pair(seed=6)
    ta, tb = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    r, m = F.rmse(ta, tb), F.mae(ta, tb)
    for i in range(a.shape[0]):
        assert abs(r[i].item() - np_rmse(a[i].astype(np.float32),
                                          b[i].astype(np.float32))) < 1e-9
        assert abs(m[i].item() - np_mae(a[i].astype(np.float32),
                                        b[i].astype(np.float32))) < 1e-9


def test_sam_matches_numpy_and_nan_for_zero_vector():
    a, b = _pair(seed=7, shape=(2, 13, 24, 24))
    ours = F.sam_degrees(torch.from_numpy(a), torch.from_numpy(b))
    for i in range(2):
        assert abs(ours[i].item() - np_sam_degrees(a[i], b[i])) < 1e-9
    a0 = a.copy()
    a0[1, :, 3, 4] = 0.0  # one all-zero pixel vector in image 1
    nan_version = F.sam_degrees(torch.from_numpy(a0), torch.from_numpy(b))
    assert not torch.isnan(nan_version[0]) and torch.isnan(nan_version[1])
    assert np.isnan(np_sam_degrees(a0[1], b[1]))
    safe = F.sam_degrees(torch.from_numpy(a0), torch.from_numpy(b), eps=1e-12)
    assert torch.isfinite(safe).all()
    # the zero pixel counts as 90 degrees, the others as before
    cos = (a[1] * b[1]).sum(0) / np.linalg.norm(a[1], axis=0) / \
        np.linalg.norm(b[1], axis=0)
    ang = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    ang[3, 4] = 90.0
    assert abs(safe[1].item() - ang.mean()) < 1e-9


def test_sam_identical_is_zero():
    a, _ = _pair(seed=8, shape=(1, 3, 8, 8))
    t = torch.from_numpy(a)
    assert F.sam_degrees(t, t).item() == pytest.approx(0.0, abs=1e-5)


def test_bad_inputs_raise_clear_errors():
    x = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match='differs from gt shape'):
        F.rmse(x, torch.zeros(1, 3, 16, 8))
    with pytest.raises(ValueError, match='B×C×H×W'):
        F.psnr(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), 1.0)
    with pytest.raises(ValueError, match='smaller than the SSIM window'):
        F.ssim_gaussian(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match='data_range'):
        F.psnr(x, x, 0)


# ------------------------------------------- separable filter and backends
def _conv2d_depthwise(x, kernel2d, padding):
    """The 2-D depthwise convolution the separable filter replaces."""
    c = x.shape[1]
    w = kernel2d.expand(c, 1, *kernel2d.shape).contiguous()
    return torch.nn.functional.conv2d(x, w, padding=padding, groups=c)


@pytest.mark.parametrize('backend', ['scipy', 'torch'])
@pytest.mark.parametrize('valid', [False, True])
def test_separable_filter_equals_2d_convolution(backend, valid):
    x = torch.from_numpy(np.random.default_rng(9).random((2, 3, 23, 31)))
    for taps, box in ((F.gaussian_taps(11, 1.5), False),
                      (torch.full((7, ), 1 / 7, dtype=torch.float64), True)):
        k = taps.numel()
        ref = _conv2d_depthwise(x, torch.outer(taps, taps),
                                0 if valid else k // 2)
        got = F.separable_filter(x, taps, valid, box=box, backend=backend)
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize('size', [(1, 1), (3, 4), (4, 6), (5, 12)])
def test_separable_filter_on_images_shorter_than_the_window(size):
    """'same' filtering of an image smaller than the 11-tap window (only the
    SSIM functions refuse such images) still equals the 2-D convolution."""
    x = torch.from_numpy(np.random.default_rng(3).random((1, 2, *size)))
    taps = F.gaussian_taps(11, 1.5)
    ref = _conv2d_depthwise(x, torch.outer(taps, taps), 5)
    got = F.separable_filter(x, taps, False, backend='torch')
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize('valid', [False, True])
def test_separable_filter_is_differentiable(valid):
    x = torch.from_numpy(np.random.default_rng(4).random((1, 1, 13, 12)))
    taps = F.gaussian_taps(11, 1.5)
    assert torch.autograd.gradcheck(
        lambda t: F.separable_filter(t, taps, valid, backend='torch'),
        (x.requires_grad_(True), ))


@pytest.mark.parametrize('fn,kw', [(F.ssim_gaussian, dict(data_range=1.0)),
                                   (F.ssim_uniform, dict(data_range=1.0))])
def test_ssim_torch_backend_equals_scipy_backend(fn, kw):
    a, b = _pair(seed=10, shape=(3, 5, 40, 36))
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    cpu = fn(a, b, backend='scipy', **kw)
    dev = fn(a, b, backend='torch', **kw)
    torch.testing.assert_close(cpu, dev, rtol=1e-10, atol=0)


def test_ssim_gaussian_equals_official_conv2d_loop():
    """The official evaluator's per-image depthwise 2-D convolution (float64)
    gives the same values to 1e-10 (relative)."""
    from .references import torch_conv2d_ssim_gaussian
    a, b = _pair(seed=11, shape=(2, 13, 48, 40))
    ours = F.ssim_gaussian(torch.from_numpy(a), torch.from_numpy(b))
    for i in range(2):
        ref = torch_conv2d_ssim_gaussian(a[i], b[i])
        assert abs(ours[i].item() - ref) <= 1e-10 * abs(ref)


def test_ssim_mean_is_chunked_without_changing_values(monkeypatch):
    a, b = _pair(seed=12, shape=(5, 2, 24, 24))
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    whole = F.ssim_gaussian(a, b)
    monkeypatch.setattr(F, '_CHUNK_ELEMENTS', 2 * 24 * 24 * 2)  # 2 images
    torch.testing.assert_close(F.ssim_gaussian(a, b), whole, rtol=0, atol=0)


def test_unknown_backend_is_refused():
    x = torch.zeros(1, 1, 16, 16)
    with pytest.raises(ValueError, match='backend'):
        F.ssim_gaussian(x, x, backend='numpy')


@pytest.mark.parametrize('size', [1, 2, 3, 7, 8, 11])
def test_window_sum_is_exact_for_integers(size):
    x = torch.from_numpy(np.random.default_rng(13).integers(
        0, 65026, (2, 3, 19, 23)).astype(np.int32))
    got = F.window_sum(x, size, -1)
    ref = torch.stack([x[..., i:i + size].sum(-1)
                       for i in range(23 - size + 1)], -1)
    assert got.dtype == torch.int32 and torch.equal(got, ref)
    col = F.window_sum(x, size, -2)
    assert torch.equal(col, F.window_sum(x.transpose(-1, -2), size,
                                         -1).transpose(-1, -2))
    with pytest.raises(ValueError, match='does not fit'):
        F.window_sum(x, 24, -1)


@pytest.mark.parametrize('scale', [1.0, 0.298912 + 0.586611 + 0.114478])
@pytest.mark.parametrize('shape', [(3, 4, 64, 64), (2, 1, 40, 57)])
def test_ssim_uniform_integer_matches_skimage(scale, shape):
    """SSIM from exact integer window sums equals scikit-image on the float
    image scale·x (the CUHK gray of a replicated band for scale 1.000001),
    including flat (zero-variance) and saturated regions."""
    a, b = _pair(shape=shape, uint8=True, seed=14)
    a[0, :, :12, :12] = 255  # saturated and flat in both
    b[0, :, :12, :12] = 255
    a[-1, :, -9:, -9:] = 0  # flat in one image only
    ours = F.ssim_uniform_integer(torch.from_numpy(a), torch.from_numpy(b),
                                  255, scale=scale)
    assert ours.dtype == torch.float64 and ours.shape == (shape[0], )
    for i in range(shape[0]):
        ref = np.mean([
            structural_similarity(a[i, c] * scale, b[i, c] * scale,
                                  data_range=255) for c in range(shape[1])
        ])
        assert abs(ours[i].item() - ref) <= 1e-12 * abs(ref), (i, ref)


def test_ssim_uniform_integer_refuses_floats_and_overflowing_values():
    x = torch.zeros(1, 1, 16, 16)
    with pytest.raises(TypeError, match='integer images'):
        F.ssim_uniform_integer(x, x, 255)
    big = torch.full((1, 1, 16, 16), 7000, dtype=torch.int32)
    with pytest.raises(ValueError, match='overflow int32'):
        F.ssim_uniform_integer(big, big, 65535)
    # 12-bit data is still exact
    rng = np.random.default_rng(15)
    a = torch.from_numpy(rng.integers(0, 4096, (1, 2, 20, 20)))
    b = torch.from_numpy(rng.integers(0, 4096, (1, 2, 20, 20)))
    ref = F.ssim_uniform(a.double(), b.double(), 4095)
    torch.testing.assert_close(F.ssim_uniform_integer(a, b, 4095), ref,
                               rtol=1e-12, atol=0)
