"""MATLAB-compatible bicubic against two references crbench did not write."""
import numpy as np
import pytest
import torch

from crbench.datasets.transforms.matlab_resize import matlab_imresize, resize_matrix


def resize_right_reference(x, scale):
    from resize_right import interp_methods, resize
    return resize(x, scale_factors=scale, interp_method=interp_methods.cubic,
                  antialiasing=True, pad_mode='symmetric')


def bicubic_pytorch_reference(x, scale):
    import bicubic_pytorch.core as core
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0)))[None]
    return np.moveaxis(core.imresize(t, scale=scale)[0].numpy(), 0, -1)


@pytest.mark.parametrize('shape', [(32, 32), (40, 24)])
def test_half_scale_matches_resize_right(shape):
    x = np.random.default_rng(0).random(shape)
    np.testing.assert_allclose(matlab_imresize(x, 0.5), resize_right_reference(x, 0.5),
                               atol=1e-10)


@pytest.mark.parametrize('scale', [0.5, 0.25, 2.0])
@pytest.mark.parametrize('shape', [(24, 20, 4), (17, 33, 3)])
def test_multiband_matches_bicubic_pytorch(scale, shape):
    # Odd sizes: MATLAB keeps the given scale and rounds the size up; resize-right
    # re-derives the scale from the sizes there, so only bicubic-pytorch is used.
    x = np.random.default_rng(1).random(shape)
    ours = matlab_imresize(x, scale)
    ref = bicubic_pytorch_reference(x, scale)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-6)  # the reference computes in float32


def test_linear_ramp_and_constant_are_reproduced():
    """imresize of a constant image stays constant; a linear ramp stays linear inside."""
    ramp = np.tile(np.arange(16, dtype=np.float64), (16, 1))
    out = matlab_imresize(ramp, 0.5)
    # Away from the symmetric border a linear ramp is reproduced exactly:
    # output pixel j samples input position 2j + 0.5 (0-based).
    np.testing.assert_allclose(out[:, 2:6], np.tile(2 * np.arange(2, 6) + 0.5, (8, 1)), atol=1e-12)
    np.testing.assert_allclose(matlab_imresize(np.full((10, 10), 7.0), 0.5), 7.0)


def test_overshoot_is_kept_not_clipped():
    x = np.zeros((32, 32))
    x[:, 16:] = 255
    out = matlab_imresize(x, 0.5)
    assert out.min() < 0 and out.max() > 255  # docs/datasets.md §2.6: no rounding/clipping


def test_rows_sum_to_one_and_float32_is_preserved():
    np.testing.assert_allclose(resize_matrix(512, 256, 0.5).sum(1), 1.0)
    assert matlab_imresize(np.ones((8, 8, 3), np.float32), 0.5).dtype == np.float32


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='H×W'):
        matlab_imresize(np.ones((2, 2, 2, 2)), 0.5)
