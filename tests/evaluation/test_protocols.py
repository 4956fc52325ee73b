"""Protocols against independent re-computations (skimage, NumPy, lpips)."""
import warnings

import lpips
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from crbench.evaluation import get_protocol, nanmean_results
from crbench.evaluation.protocols import PROTOCOLS, quantize_uint8_official

from .references import (np_ssim_gaussian, ref_cuhk_official, ref_float_official,
                         ref_render_diffcr, torch_conv2d_ssim_gaussian)


@pytest.fixture(scope='module')
def loss_fn():
    """lpips called directly; random (seeded) AlexNet backbone, real lins."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return lpips.LPIPS(net='alex', pretrained=True, pnet_rand=True,
                           verbose=False).eval()


def _rel(a, b):
    """Relative difference |a − b| / |b| (0 for equal values, inf or NaN
    on both sides too)."""
    if a == b or (np.isnan(a) and np.isnan(b)):
        return 0.0
    return abs(a - b) / abs(b)


def _assert_float_official(got, i, p, t):
    """Image ``i`` of ``got`` against the §4.8 per-image metrics, with the SSIM of
    both references: SciPy's filter and the official evaluator's 2-D convolution."""
    for ssim in (np_ssim_gaussian, torch_conv2d_ssim_gaussian):
        for key, ref in ref_float_official(p, t, ssim).items():
            assert _rel(got[key][i].item(), ref) <= 1e-10, (key, ssim.__name__)


def _images(b, c, h, w, seed, spread=1.1):
    """float32 [-1,1]-ish pred/gt pairs; pred slightly out of range too."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, c, h, w, generator=g) * 2 - 1
    pred = gt + 0.2 * torch.randn(b, c, h, w, generator=g)
    return pred.clamp(-spread, spread), gt


# ------------------------------------------------------------------ CUHK

@pytest.mark.parametrize('bands', [4, 3])
def test_cuhk_official_matches_reference(bands, loss_fn):
    pred, gt = _images(2, bands, 64, 64, seed=bands)
    got = get_protocol('cuhk_official')(pred, gt, lpips_model=loss_fn)
    assert set(got) == {'PSNR', 'SSIM', 'RMSE', 'LPIPS'}
    for i in range(2):
        ref = ref_cuhk_official(pred[i], gt[i], loss_fn)
        for key in ('PSNR', 'SSIM', 'RMSE'):
            assert _rel(got[key][i].item(), ref[key]) <= 1e-10, key
        # LPIPS is a float32 network: batched bands and images (and the
        # channels-last layout) change its rounding, not its value
        assert abs(got['LPIPS'][i].item() - ref['LPIPS']) <= 1e-5


def test_cuhk_official_without_lpips_model_omits_lpips():
    pred, gt = _images(1, 4, 32, 32, seed=9)
    assert 'LPIPS' not in get_protocol('cuhk_official')(pred, gt)


def test_cuhk_quantisation_truncates_not_rounds():
    # gt at DN k + 0.3, pred at DN k + 0.7: truncation maps both to k
    # (identical uint8 images, PSNR inf, SSIM 1); rounding would give k and
    # k + 1 everywhere (PSNR 20·log10(255) ≈ 48.13 dB).
    g = torch.Generator().manual_seed(3)
    k = torch.randint(0, 254, (1, 4, 32, 32), generator=g).double()
    gt = ((k + 0.3) / 255 * 2 - 1).float()
    pred = ((k + 0.7) / 255 * 2 - 1).float()
    assert torch.equal(quantize_uint8_official((pred + 1) / 2),
                       k.to(torch.uint8))
    got = get_protocol('cuhk_official')(pred, gt)
    assert torch.isinf(got['PSNR']).all()
    assert got['SSIM'].item() == pytest.approx(1.0, abs=1e-12)
    rounded = peak_signal_noise_ratio(np.round(k.numpy() + 0.3),
                                      np.round(k.numpy() + 0.7),
                                      data_range=255)
    assert rounded == pytest.approx(20 * np.log10(255), abs=1e-9)


def test_cuhk_quantisation_clamps():
    x01 = torch.tensor([-0.2, 0.0, 0.5, 1.0, 1.3])
    assert quantize_uint8_official(x01).tolist() == [0, 0, 127, 255, 255]


# ------------------------------------------------------------ SEN12MS-CR
def test_sen12mscr_official_matches_numpy():
    pred, gt = _images(2, 13, 48, 48, seed=11)
    got = get_protocol('sen12mscr_official')(pred, gt)
    assert set(got) == {'RMSE', 'MAE', 'PSNR', 'SAM', 'SSIM'}
    for i in range(2):
        p = ((pred[i].double() + 1) / 2).numpy()  # no clamp (§4.8.1)
        t = ((gt[i].double() + 1) / 2).numpy()
        _assert_float_official(got, i, p, t)


def test_sen12mscr_zero_pixel_gives_nan_sam_skipped_in_mean():
    pred, gt = _images(2, 13, 24, 24, seed=12, spread=1.0)
    gt[1, :, 0, 0] = -1.0  # all-zero target vector after (x+1)/2
    got = get_protocol('sen12mscr_official')(pred, gt)
    assert torch.isnan(got['SAM'][1]) and not torch.isnan(got['SAM'][0])
    rows = [{k: v[i].item() for k, v in got.items()} for i in range(2)]
    agg = nanmean_results(rows)
    assert agg['SAM'] == pytest.approx(got['SAM'][0].item())
    assert agg['RMSE'] == pytest.approx(got['RMSE'].mean().item())


# ----------------------------------------------------------- Sen2_MTC_New
def test_sen2mtc_official_matches_numpy(loss_fn):
    pred, gt = _images(2, 3, 64, 64, seed=13)
    # DN about 0..3000: exercises the 2000 clip; no all-zero pixel vectors
    pred, gt = pred * 0.3 - 0.7, gt * 0.3 - 0.7
    pred[1] = -1.0  # constant zero reflectance -> rendered as all ones
    got = get_protocol('sen2mtc_official')(pred, gt, lpips_model=loss_fn)
    assert set(got) == {'RMSE', 'MAE', 'PSNR', 'SAM', 'SSIM', 'LPIPS'}
    for i in range(2):
        p, t = ref_render_diffcr(pred[i]), ref_render_diffcr(gt[i])
        if i == 1:
            assert (p == 1).all()
        _assert_float_official(got, i, p, t)
        ref_lp = loss_fn(torch.from_numpy(2 * t - 1).float()[None],
                         torch.from_numpy(2 * p - 1).float()[None]).item()
        assert abs(got['LPIPS'][i].item() - ref_lp) <= 1e-5


def test_sen2mtc_official_rejects_non_rgb():
    pred, gt = _images(1, 4, 32, 32, seed=14)
    with pytest.raises(ValueError, match='3 RGB bands'):
        get_protocol('sen2mtc_official')(pred, gt)


# ---------------------------------------------------------------- standard
def test_standard_clamps_and_matches_numpy(loss_fn):
    pred, gt = _images(2, 13, 32, 32, seed=15, spread=1.5)
    proto = get_protocol('standard', rgb_bands=(3, 2, 1))
    got = proto(pred, gt, lpips_model=loss_fn)
    assert set(got) == {'RMSE', 'MAE', 'PSNR', 'SAM', 'SSIM', 'LPIPS'}
    for i in range(2):
        p = np.clip((pred[i].double().numpy() + 1) / 2, 0, 1)
        t = np.clip((gt[i].double().numpy() + 1) / 2, 0, 1)
        _assert_float_official(got, i, p, t)  # the same metrics, on clamped values
        sel = [3, 2, 1]
        ref_lp = loss_fn(torch.from_numpy(2 * p[sel] - 1).float()[None],
                         torch.from_numpy(2 * t[sel] - 1).float()[None])
        assert abs(got['LPIPS'][i].item() - ref_lp.item()) <= 1e-5
    # the unclamped (official-style) RMSE differs, so clamping is tested
    unclamped = get_protocol('sen12mscr_official')(pred, gt)['RMSE']
    assert (unclamped - got['RMSE']).abs().max() > 1e-3


def test_standard_sam_is_finite_for_zero_pixels():
    pred, gt = _images(1, 4, 16, 16, seed=16, spread=1.0)
    gt[0, :, 2, 2] = -1.0
    assert torch.isfinite(get_protocol('standard')(pred, gt)['SAM']).all()


def test_standard_rgb_bands_out_of_range(loss_fn):
    pred, gt = _images(1, 4, 32, 32, seed=17)
    with pytest.raises(ValueError, match='rgb_bands'):
        get_protocol('standard', rgb_bands=(5, 2, 1))(pred, gt, loss_fn)
    with pytest.raises(ValueError, match='3 band indices'):
        get_protocol('standard', rgb_bands=(0, 1))


# ------------------------------------------------------------------ misc
def test_get_protocol_unknown_name_lists_valid_names():
    with pytest.raises(KeyError) as err:
        get_protocol('cuhk')
    for name in PROTOCOLS:
        assert name in str(err.value)


def test_protocol_metadata():
    for name, cls in PROTOCOLS.items():
        proto = get_protocol(name)
        assert proto.name == name
        assert proto.metrics['PSNR'] is True and proto.metrics['SSIM'] is True
        assert proto.metrics['RMSE'] is False
        assert ('LPIPS' in proto.metrics) == proto.uses_lpips
    assert not get_protocol('sen12mscr_official').uses_lpips


def test_nanmean_results_skips_nan_only():
    rows = [{'A': 1.0, 'B': float('nan')}, {'A': 3.0, 'B': float('nan')},
            {'A': float('nan'), 'B': float('nan')}]
    agg = nanmean_results(rows)
    assert agg['A'] == 2.0 and np.isnan(agg['B'])


# ------------------------------------------------- batching and backends
@pytest.mark.parametrize('name,bands', [('cuhk_official', 4),
                                        ('cuhk_official', 3),
                                        ('sen12mscr_official', 13),
                                        ('sen2mtc_official', 3),
                                        ('standard', 4)])
def test_torch_backend_equals_scipy_backend(name, bands, loss_fn):
    """The device (torch) path equals the CPU (SciPy) path within 1e-10."""
    pred, gt = _images(3, bands, 40, 48, seed=20 + bands)
    cpu = get_protocol(name, backend='scipy')(pred, gt, lpips_model=loss_fn)
    dev = get_protocol(name, backend='torch')(pred, gt, lpips_model=loss_fn)
    assert set(cpu) == set(dev)
    for key in cpu:
        for a, b in zip(cpu[key].tolist(), dev[key].tolist()):
            assert _rel(a, b) <= 1e-10, (key, a, b)


@pytest.mark.parametrize('name,bands', [('cuhk_official', 4),
                                        ('sen2mtc_official', 3)])
def test_batch_equals_one_image_at_a_time(name, bands, loss_fn):
    """Stacking images (and bands through LPIPS) does not change values."""
    pred, gt = _images(4, bands, 32, 32, seed=30 + bands)
    proto = get_protocol(name)
    batch = proto(pred, gt, lpips_model=loss_fn)
    for i in range(4):
        one = proto(pred[i:i + 1], gt[i:i + 1], lpips_model=loss_fn)
        for key in batch:
            tol = 1e-5 if key == 'LPIPS' else 1e-10
            assert _rel(batch[key][i].item(), one[key].item()) <= tol, key


def test_bad_backend_is_refused():
    with pytest.raises(ValueError, match='backend'):
        get_protocol('sen12mscr_official', backend='cuda')
