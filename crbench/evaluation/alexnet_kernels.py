"""Faster CPU convolutions for LPIPS's AlexNet, equal up to float32 rounding.

LPIPS spends almost all of its CPU time in AlexNet's five convolutions, and
the default CPU kernels run some of them well below the rate they reach on
other shapes. Each function below computes exactly the convolution
``F.conv2d`` computes (same weights, same sums) in a different order of
operations; tests compare every path with a float64 convolution.

- conv1 (11×11, stride 4) on one input channel (a band replicated to RGB,
  with lpips' scaling folded in): :func:`strided_conv_as_dense` turns it
  into a 3×3 stride-1 convolution over the 16 stride phases of the input
  (space-to-depth).
- conv2 (5×5): NNPACK's fast convolution, where PyTorch ships NNPACK.
- conv3–conv5 (3×3): Winograd's minimal filtering F(2×2, 3×3) (Lavin and
  Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016):
  16 products per 2×2 output tile instead of 36, with transforms whose
  coefficients are 0, ±1 and ±½, so the rounding stays close to a direct
  convolution's (0.6–2× its error against float64 in the tests).

:func:`alexnet_conv` picks the path for one ``nn.Conv2d``; anything it does
not recognise (another device, dtype, shape) is simply ``conv(x)``.
"""
import weakref
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

__all__ = [
    'space_to_depth_weight', 'strided_conv_as_dense', 'nnpack_usable',
    'winograd_weight', 'winograd_conv3x3', 'derived_from_weight',
    'alexnet_conv'
]


def space_to_depth_weight(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """A k×k stride-s kernel as a ⌈k/s⌉×⌈k/s⌉ stride-1 kernel over s² phases.

    Tap (i, j) of input channel c moves to channel (c, i mod s, j mod s),
    tap (i div s, j div s); the taps added to reach a multiple of s are 0.
    """
    out_ch, in_ch, k, _ = weight.shape
    taps = -(-k // stride)
    padded = F.pad(weight, (0, taps * stride - k, 0, taps * stride - k))
    phases = padded.view(out_ch, in_ch, taps, stride, taps, stride)
    return phases.permute(0, 1, 3, 5, 2, 4).reshape(out_ch,
                                                    in_ch * stride**2, taps,
                                                    taps)


def strided_conv_as_dense(x: torch.Tensor, weight: torch.Tensor,
                          bias: Optional[torch.Tensor], kernel: int,
                          stride: int, padding: int) -> torch.Tensor:
    """``F.conv2d(x, W, bias, stride, padding)`` for ``weight`` =
    ``space_to_depth_weight(W, stride)``, returned in channels-last layout.

    With one input channel an 11×11 stride-4 convolution runs at a third of
    the CPU kernels' usual rate; as a 3×3 convolution over 16 phase
    channels, output already channels-last, it ran 1.4–2× faster. (With
    three channels the direct kernel was faster.) The zero taps change only
    the rounding.
    """
    n, c, h, w = x.shape
    taps = weight.shape[-1]
    out_h = (h + 2 * padding - kernel) // stride + 1
    out_w = (w + 2 * padding - kernel) // stride + 1
    in_h, in_w = stride * (out_h + taps - 1), stride * (out_w + taps - 1)
    # a negative pad crops input rows that only zero taps would reach
    x = F.pad(x.contiguous(),
              (padding, in_w - w - padding, padding, in_h - h - padding))
    x = x.view(n, c, in_h // stride, stride, in_w // stride, stride)
    x = x.permute(0, 2, 4, 1, 3, 5).reshape(n, in_h // stride,
                                            in_w // stride, c * stride**2)
    return F.conv2d(x.permute(0, 3, 1, 2), weight, bias)


_NNPACK: Optional[bool] = None


def nnpack_usable() -> bool:
    """Whether this PyTorch has a working NNPACK (asking also initialises
    it; NNPACK refuses every call before that)."""
    global _NNPACK
    if _NNPACK is None:
        try:
            _NNPACK = bool(torch._nnpack_available())
        except (AttributeError, RuntimeError):
            _NNPACK = False
    return _NNPACK


def _nnpack_conv(x: torch.Tensor, conv: torch.nn.Conv2d
                 ) -> Optional[torch.Tensor]:
    """NNPACK's convolution in ``x``'s layout, or None where it refuses."""
    global _NNPACK
    try:
        out = torch._nnpack_spatial_convolution(x, conv.weight, conv.bias,
                                                list(conv.padding),
                                                list(conv.stride))
    except RuntimeError:
        _NNPACK = False  # refused once: take the default kernel from now on
        return None
    # back to the input's layout: max pooling over NCHW was 4× slower
    return out.contiguous(memory_format=_layout_of(x))


def _layout_of(x: torch.Tensor) -> torch.memory_format:
    if x.is_contiguous(memory_format=torch.channels_last) and (
            not x.is_contiguous()):
        return torch.channels_last
    return torch.contiguous_format


# F(2×2, 3×3): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for a 4×4 input tile d and a
# 3×3 kernel g. Bᵀ and Aᵀ are applied below as the sums they stand for.
_WINOGRAD_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5),
               (0.0, 0.0, 1.0))


def winograd_weight(weight: torch.Tensor) -> torch.Tensor:
    """G g Gᵀ of every (output, input) kernel pair, as 16 × C_in × C_out."""
    out_ch, in_ch = weight.shape[:2]
    g = torch.tensor(_WINOGRAD_G, dtype=torch.float64, device=weight.device)
    u = torch.einsum('ik,ockl,jl->ijco', g, weight.double(), g)
    return u.reshape(16, in_ch, out_ch).to(weight.dtype).contiguous()


def _input_transform(rows, out=None):
    """Bᵀ applied along one axis: four rows (or columns) of a tile to four,
    written into ``out`` (four tensors) when given."""
    d0, d1, d2, d3 = rows
    out = out or [None] * 4
    return (torch.sub(d0, d2, out=out[0]), torch.add(d1, d2, out=out[1]),
            torch.sub(d2, d1, out=out[2]), torch.sub(d1, d3, out=out[3]))


def _output_transform(rows, out=None):
    """Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]] along one axis: four to two."""
    m0, m1, m2, m3 = rows
    out = out or [None] * 2
    return (torch.add(m0 + m1, m2, out=out[0]),
            torch.sub(m1 - m2, m3, out=out[1]))


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor,
                     bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.conv2d(x, g, bias, padding=1)`` for ``u = winograd_weight(g)``,
    any H×W, returned in channels-last layout.

    The 16 products per tile become 16 matrix products over the channels
    (tiles × C_in times C_in × C_out), where the CPU reaches its full rate.
    """
    n, c, h, w = x.shape
    tiles_h, tiles_w = (h + 1) // 2, (w + 1) // 2
    # tile (a, b) reads padded rows 2a .. 2a+3 and columns 2b .. 2b+3
    padded = F.pad(x, (1, 2 * tiles_w + 1 - w, 1, 2 * tiles_h + 1 - h))
    padded = padded.permute(0, 2, 3, 1)  # N×H×W×C (a view if channels-last)
    v = x.new_empty(4, 4, n, tiles_h, tiles_w, c)
    rows = [padded[:, i:i + 2 * tiles_h:2] for i in range(4)]
    for i, row in enumerate(_input_transform(rows)):
        cols = [row[:, :, j:j + 2 * tiles_w:2] for j in range(4)]
        _input_transform(cols, out=list(v[i]))
    m = torch.bmm(v.view(16, -1, c), u).view(4, 4, n, tiles_h, tiles_w, -1)
    out_ch = u.shape[-1]
    y = x.new_empty(n, tiles_h, 2, tiles_w, 2, out_ch)
    for i, row in enumerate(_output_transform(list(m))):
        _output_transform(list(row), out=[y[:, :, i, :, 0], y[:, :, i, :, 1]])
    y = y.view(n, 2 * tiles_h, 2 * tiles_w, out_ch)[:, :h, :w]
    out = x.new_empty(n, h, w, out_ch)
    if bias is None:
        out.copy_(y)
    else:
        torch.add(y, bias, out=out)
    return out.permute(0, 3, 1, 2)


# owner module -> {name: (state of the weight it came from, derived value)}
_DERIVED: 'weakref.WeakKeyDictionary' = weakref.WeakKeyDictionary()


def derived_from_weight(owner: torch.nn.Module, name: str,
                        weight: torch.Tensor, build: Callable[[], Any]):
    """``build()``, computed once per state of ``weight`` (its storage,
    in-place version, device and dtype) and kept while ``owner`` lives: a
    loaded, moved or edited weight gets a fresh value."""
    entries = _DERIVED.setdefault(owner, {})
    state = (weight.data_ptr(), weight._version, weight.device, weight.dtype)
    if name not in entries or entries[name][0] != state:
        entries[name] = (state, build())
    return entries[name][1]


def _winograd_weight_of(conv: torch.nn.Conv2d) -> torch.Tensor:
    def build():
        with torch.no_grad():
            return winograd_weight(conv.weight)

    return derived_from_weight(conv, 'winograd', conv.weight, build)


def alexnet_conv(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` through the fastest of the paths above that applies
    (inference only: with autograd on, always ``conv(x)``).

    Measured with one thread on an AMD EPYC (Zen 4, AVX-512) at LPIPS's
    shapes for 256² inputs: NNPACK ran the 5×5 layer 1.6–1.8× faster than
    the default kernel with the same rounding error against float64
    (~2e-7 of the largest output); its own 3×3 path was at most 10 % faster
    with 25× that error, so the 3×3 layers take F(2×2, 3×3), 12–20 %
    faster with 0.6–2× the default kernel's rounding error.
    """
    wants_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad
        for t in (x, conv.weight, conv.bias))
    plain = (conv.stride == (1, 1) and conv.dilation == (1, 1)
             and conv.groups == 1 and conv.padding_mode == 'zeros'
             and not isinstance(conv.padding, str)
             and x.device.type == 'cpu' and x.dtype == torch.float32
             and conv.weight.dtype == torch.float32 and x.dim() == 4)
    if wants_grad or not plain:
        return conv(x)
    if conv.kernel_size == (5, 5) and nnpack_usable():
        out = _nnpack_conv(x, conv)
        if out is not None:
            return out
    if conv.kernel_size == (3, 3) and conv.padding == (1, 1):
        return winograd_conv3x3(x, _winograd_weight_of(conv), conv.bias)
    return conv(x)
