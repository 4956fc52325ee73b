"""The fast AlexNet convolution paths equal F.conv2d up to float32 rounding.

Every path is compared with a float64 ``F.conv2d`` (PyTorch's own kernel,
not crbench code): its error may be at most 2.5× that of the float32 default
kernel on the same input (measured: 0.6–2×).
"""
import pytest
import torch
import torch.nn.functional as F

import crbench.evaluation.alexnet_kernels as kernels
from crbench.evaluation.alexnet_kernels import (alexnet_conv,
                                                derived_from_weight,
                                                nnpack_usable,
                                                space_to_depth_weight,
                                                strided_conv_as_dense,
                                                winograd_conv3x3,
                                                winograd_weight)


def _relative_error(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def _inputs(n, c, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=g).relu_()


def _conv(in_ch, out_ch, k, stride=1, padding=0, seed=1):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(in_ch, out_ch, k, stride, padding)
    conv.requires_grad_(False)
    return conv


@pytest.mark.parametrize('channels,size', [(1, (64, 64)), (3, (67, 90)),
                                           (1, (256, 256)), (3, (13, 14))])
def test_space_to_depth_equals_the_strided_convolution(channels, size):
    conv = _conv(channels, 64, 11, 4, 2)  # AlexNet's first layer
    x = _inputs(2, channels, *size)
    ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), 4,
                   2)
    weight = space_to_depth_weight(conv.weight, 4)
    assert weight.shape == (64, channels * 16, 3, 3)
    got = strided_conv_as_dense(x, weight, conv.bias, 11, 4, 2)
    assert got.shape == ref.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    direct = _relative_error(conv(x), ref)
    assert _relative_error(got, ref) <= max(2.5 * direct, 2e-7)


def test_space_to_depth_other_strides_and_kernels():
    """Kernel not a multiple of the stride, stride 2, padding 0 and 3."""
    for k, stride, padding in [(5, 2, 0), (7, 2, 3), (3, 3, 1), (4, 4, 0)]:
        conv = _conv(3, 8, k, stride, padding)
        x = _inputs(1, 3, 21, 18)
        ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(),
                       stride, padding)
        got = strided_conv_as_dense(x,
                                    space_to_depth_weight(conv.weight, stride),
                                    conv.bias, k, stride, padding)
        assert got.shape == ref.shape, (k, stride, padding)
        assert _relative_error(got, ref) < 1e-6, (k, stride, padding)


@pytest.mark.parametrize('size', [(15, 15), (16, 16), (31, 31), (7, 10),
                                  (1, 1)])
@pytest.mark.parametrize('layout',
                         [torch.contiguous_format, torch.channels_last])
def test_winograd_equals_the_3x3_convolution(size, layout):
    conv = _conv(24, 40, 3, 1, 1)
    x = _inputs(3, 24, *size).contiguous(memory_format=layout)
    ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(),
                   padding=1)
    got = winograd_conv3x3(x, winograd_weight(conv.weight), conv.bias)
    assert got.shape == ref.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    direct = _relative_error(conv(x), ref)
    assert _relative_error(got, ref) <= max(2.5 * direct, 2e-7)


def test_winograd_without_bias_and_at_alexnet_width():
    """conv3's shape (192 -> 384 channels at 15×15): the matrix products
    over many channels are where rounding would show."""
    conv = _conv(192, 384, 3, 1, 1)
    x = _inputs(2, 192, 15, 15)
    ref = F.conv2d(x.double(), conv.weight.double(), padding=1)
    got = winograd_conv3x3(x, winograd_weight(conv.weight), None)
    direct = _relative_error(F.conv2d(x, conv.weight, padding=1), ref)
    assert _relative_error(got, ref) <= max(2.5 * direct, 2e-7)
    wrong = winograd_weight(conv.weight.transpose(0, 1).reshape_as(
        conv.weight))  # a mislaid kernel must be caught
    assert _relative_error(winograd_conv3x3(x, wrong, None), ref) > 1e-2


def test_alexnet_conv_takes_nnpack_for_5x5(monkeypatch):
    if not nnpack_usable():
        pytest.skip('this PyTorch has no NNPACK')
    calls = []
    real = torch._nnpack_spatial_convolution

    def counting(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(torch, '_nnpack_spatial_convolution', counting)
    conv = _conv(64, 192, 5, 1, 2)  # AlexNet's second layer
    x = _inputs(4, 64, 31, 31).contiguous(memory_format=torch.channels_last)
    ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(),
                   padding=2)
    with torch.inference_mode():
        got = alexnet_conv(x, conv)
    assert calls == [x.shape]
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert _relative_error(got, ref) <= max(
        2.5 * _relative_error(conv(x), ref), 2e-7)


def test_alexnet_conv_falls_back_when_nnpack_refuses(monkeypatch):
    def refuse(*args):
        raise RuntimeError('NNPACK SpatialConvolution_updateOutput failed')

    monkeypatch.setattr(torch, '_nnpack_spatial_convolution', refuse)
    monkeypatch.setattr(kernels, '_NNPACK', True)
    conv = _conv(8, 16, 5, 1, 2)
    x = _inputs(2, 8, 12, 12)
    with torch.inference_mode():
        assert torch.equal(alexnet_conv(x, conv), conv(x))
    assert kernels._NNPACK is False  # not asked again
    assert not nnpack_usable()


def test_alexnet_conv_leaves_other_cases_to_the_module():
    """float64, stride 2, 3×3 without padding 1 and autograd: exactly
    ``conv(x)``; a 3×3 float32 inference call takes Winograd."""
    x = _inputs(2, 8, 9, 9)
    conv = _conv(8, 8, 3, 1, 1)
    double = _conv(8, 8, 3, 1, 1).double()
    assert torch.equal(alexnet_conv(x.double(), double), double(x.double()))
    for other in (_conv(8, 8, 3, 2, 1), _conv(8, 8, 3, 1, 0)):
        with torch.inference_mode():
            assert torch.equal(alexnet_conv(x, other), other(x))
    grad_x = x.clone().requires_grad_(True)
    out = alexnet_conv(grad_x, conv)
    assert torch.equal(out, conv(grad_x)) and out.requires_grad
    with torch.inference_mode():
        fast = alexnet_conv(x, conv)
    assert not torch.equal(fast, conv(x))  # another order of operations
    torch.testing.assert_close(fast, conv(x), rtol=1e-5, atol=1e-5)


def test_winograd_weight_follows_the_module_weight():
    conv = _conv(8, 8, 3, 1, 1)
    x = _inputs(1, 8, 6, 6)
    with torch.inference_mode():
        before = alexnet_conv(x, conv)
    with torch.no_grad():
        conv.weight.mul_(2)
    with torch.inference_mode():
        after = alexnet_conv(x, conv)
    torch.testing.assert_close(after, conv(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(after, before)


def test_alexnet_conv_refuses_what_its_paths_do_not_compute():
    """A trainable bias, reflect padding and string padding run the module
    itself (the fast paths zero-pad and write through out=)."""
    x = _inputs(1, 16, 8, 8)
    bias_grad = _conv(16, 32, 3, 1, 1)
    bias_grad.bias.requires_grad_(True)
    out = alexnet_conv(x, bias_grad)
    assert out.requires_grad and torch.equal(out, bias_grad(x))
    for k, kw in ((3, dict(padding=1, padding_mode='reflect')),
                  (5, dict(padding=2, padding_mode='reflect')),
                  (5, dict(padding='same')), (3, dict(padding='same'))):
        torch.manual_seed(0)
        conv = torch.nn.Conv2d(16, 8, k, **kw).requires_grad_(False)
        with torch.inference_mode():
            assert torch.equal(alexnet_conv(x, conv), conv(x)), (k, kw)


def test_a_derived_value_is_rebuilt_exactly_when_its_weight_changes():
    conv = _conv(2, 2, 3)
    builds = []

    def build(tag):
        return lambda: builds.append(tag) or len(builds)

    first = derived_from_weight(conv, 'a', conv.weight, build('a'))
    assert derived_from_weight(conv, 'a', conv.weight, build('a')) == first
    assert derived_from_weight(conv, 'b', conv.weight, build('b')) != first
    with torch.no_grad():
        conv.weight.add_(1)  # in place: same storage, new version
    derived_from_weight(conv, 'a', conv.weight, build('a'))
    conv.weight = torch.nn.Parameter(conv.weight.double())  # loaded/cast
    derived_from_weight(conv, 'a', conv.weight, build('a'))
    assert builds == ['a', 'b', 'a', 'a']
