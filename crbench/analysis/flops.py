"""Counting multiply-accumulates (MACs) of one call, in two conventions.

* :func:`count_macs`: ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 of
  one call. It counts convolutions, matrix products and attention (including
  ``scaled_dot_product_attention``) exactly; elementwise ops, normalisation,
  pooling and interpolation are not counted (the convention of thop / ptflops
  for convolutions and linear layers, except that those tools miss attention
  written with ``einsum`` / ``sdpa``). The CPU attention kernel
  ``_scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode
  does not know, gets the formula of the GPU attention kernels. The
  breakdown per aten op is returned as well.
* :func:`count_macs_thop_convention`: the count of the ``thop`` package's
  ``profile``, which the papers' MAC columns (EMRDM Table 6) come from,
  reimplemented without thop (rules in the comment above
  :func:`thop_convention_counts`): convolutions by thop's formula (bias not
  counted; a transposed convolution counted as output size x input channels x
  kernel, i.e. stride^d times its real MACs), linear layers, and per-type counts
  for norms, PReLU, softmax, average pooling and upsampling modules; nothing for
  functional ops (attention written with ``matmul`` counts 0). A module shared
  by k parents is counted k^2 times, as thop does (MemoryNet's PReLU shared by
  56 CABs: 563 G instead of 141 G); ``shared_modules='once'`` counts it once.

:mod:`crbench.analysis.benchmark` applies both to a config's model.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Dict, Optional

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


# ---------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------

def count_macs(fn: Callable, *args, **kwargs) -> tuple:
    """``(macs, macs_by_op, output)`` of one call of ``fn(*args, **kwargs)``.

    MACs are FlopCounterMode FLOPs / 2 (a multiply-accumulate is two FLOPs).
    ``macs_by_op`` maps aten op names (e.g. ``convolution``) to MACs.
    """
    with FlopCounterMode(display=False, custom_mapping=_extra_formulas()) as counter, \
            torch.no_grad():
        out = fn(*args, **kwargs)
    total = counter.get_total_flops()
    by_op = Counter()
    for op, flops in counter.get_flop_counts().get('Global', {}).items():
        name = getattr(op, '__name__', str(op)).split('.')[0]
        by_op[name] += flops // 2
    return total // 2, dict(sorted(by_op.items())), out


def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    from torch.utils.flop_counter import sdpa_flop_count

    def four_d(shape):
        return (1,) * (4 - len(shape)) + tuple(shape[-4:])

    return sdpa_flop_count(four_d(query_shape), four_d(key_shape), four_d(value_shape))


def _extra_formulas() -> dict:
    """Ops FlopCounterMode has no formula for (in this torch) that crbench models reach.

    ``scaled_dot_product_attention`` on CPU dispatches to
    ``_scaled_dot_product_flash_attention_for_cpu``, which torch does not count;
    it gets the same formula as the GPU attention kernels (q k^T and attn v).
    """
    aten = torch.ops.aten
    extra = {}
    op = getattr(aten, '_scaled_dot_product_flash_attention_for_cpu', None)
    if op is not None:
        extra[op] = _sdpa_cpu_flop
    return extra


def conv2d_macs(conv: nn.Conv2d, height: int, width: int, batch: int = 1) -> int:
    """Closed-form MACs of a Conv2d (bias not counted), for checking :func:`count_macs`."""
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    ph, pw = conv.padding if isinstance(conv.padding, tuple) else (0, 0)
    dh, dw = conv.dilation
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return batch * conv.out_channels * out_h * out_w * (conv.in_channels // conv.groups) * kh * kw


# ---------------------------------------------------------------------------
# The papers' counting convention (thop's ``profile``), reimplemented
# ---------------------------------------------------------------------------
#
# EMRDM Table 6 (and the papers it copies from) count MACs with the ``thop``
# package's ``profile`` (thop 0.1.x). crbench does not depend on thop; the rules
# below restate thop 0.1.1's rule table in crbench's own code (checked against
# thop on MemoryNet and MSDA-CR: identical totals) so that crbench can print a
# number comparable with the papers' beside its own exact count
# (:func:`count_macs`). Per module *type* (exact type, not subclasses, as thop
# looks ``type(module)`` up in a table), for one call with input ``x`` and
# output ``y``:
#
# * Conv1d/2d/3d, ConvTranspose1d/2d/3d: ``y.numel() * (x.shape[1] // groups) *
#   kernel volume``; the bias is **not** counted.
# * Linear: ``in_features * y.numel()`` (bias not counted).
# * BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm1d/2d/3d, LayerNorm:
#   ``2 * x.numel()``, doubled when the layer is affine. (GroupNorm has no rule: 0.)
# * PReLU: ``x.numel()`` in eval mode (0 in training mode).
# * ReLU, ReLU6, LeakyReLU, Dropout, ZeroPad2d, PixelShuffle, MaxPool*,
#   AdaptiveMaxPool*: 0. Types without a rule (Sigmoid, Tanh, GELU, SiLU,
#   GroupNorm, ...) and every functional call (``F.interpolate``, ``torch.matmul``,
#   ``einsum``, element-wise tensor arithmetic) count 0 as well.
# * Softmax: ``(x.numel() / n) * (3n - 1)`` with ``n = x.size(dim)`` (exp, add, div).
# * AvgPool*: ``y.numel()``; AdaptiveAvgPool*: ``int((prod(in / out spatial) + 1) *
#   y.numel())``.
# * Upsample, UpsamplingNearest2d, UpsamplingBilinear2d: ``y.numel()`` times 1
#   (nearest), 5 (linear), 11 (bilinear) or 259 (bicubic); other modes 0.
#
# Shared modules (``shared_modules='per_parent'``, the papers' numbers): thop
# installs its counting hook with ``model.apply``, which visits a module once
# per path from the root (``children()`` de-duplicates only inside one parent),
# so a module registered under k parents gets k hooks and every call of it is
# counted k times. The total is then a recursion over ``named_children()`` from
# the root (a module with a rule contributes its accumulated ops, Sequential /
# ModuleList and modules without a rule are recursed into), which again adds
# that module once per path: k^2 times its real ops in all. MemoryNet (MPRNet)
# registers its one PReLU in all 56 CABs: at 1x4x256x256 the PReLU's 0.135 G
# ops become 56^2 x 0.135 = 422.1 G of thop's 563.2 G (convolutions: 141.1 G),
# compute that does not exist. ``shared_modules='once'`` counts every call of
# every module once, the correct total under the same per-type rules.

def _spatial_volume(shape) -> int:
    return math.prod(int(s) for s in shape)


def _ops_conv(m, x, y) -> float:
    return y.numel() * (x.shape[1] // m.groups) * _spatial_volume(m.weight.shape[2:])


def _ops_linear(m, x, y) -> float:
    return m.in_features * y.numel()


def _ops_norm(m, x, y) -> float:
    ops = 2 * x.numel()
    if getattr(m, 'affine', False) or getattr(m, 'elementwise_affine', False):
        ops *= 2
    return ops


def _ops_prelu(m, x, y) -> float:
    return 0 if m.training else x.numel()


def _ops_zero(m, x, y) -> float:
    return 0


def _ops_softmax(m, x, y) -> float:
    dim = m.dim
    if dim is None:  # torch's implicit softmax dimension
        dim = 0 if x.dim() in (0, 1, 3) else 1
    n = x.size(dim)
    return (x.numel() // n) * (3 * n - 1)


def _ops_avgpool(m, x, y) -> float:
    return y.numel()


def _ops_adaptive_avgpool(m, x, y) -> float:
    kernel = math.prod(float(i) / float(o) for i, o in zip(x.shape[2:], y.shape[2:]))
    return int((kernel + 1) * y.numel())


_UPSAMPLE_OPS = {'nearest': 1, 'linear': 5, 'bilinear': 11, 'bicubic': 259}


def _ops_upsample(m, x, y) -> float:
    return _UPSAMPLE_OPS.get(m.mode, 0) * y.numel()


def _thop_convention_rules() -> dict:
    rules = {}
    for t in (nn.Conv1d, nn.Conv2d, nn.Conv3d,
              nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        rules[t] = _ops_conv
    for t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LayerNorm,
              nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d):
        rules[t] = _ops_norm
    for t in (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Dropout, nn.ZeroPad2d, nn.PixelShuffle,
              nn.Sequential, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
              nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d):
        rules[t] = _ops_zero
    for t in (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d):
        rules[t] = _ops_avgpool
    for t in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d):
        rules[t] = _ops_adaptive_avgpool
    for t in (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d):
        rules[t] = _ops_upsample
    rules.update({nn.Linear: _ops_linear, nn.PReLU: _ops_prelu, nn.Softmax: _ops_softmax})
    return rules


SHARED_MODULE_MODES = ('per_parent', 'once')


def thop_convention_counts(model: nn.Module, *inputs, call: Optional[Callable] = None) -> dict:
    """Both paper-convention totals of one call (see :func:`count_macs_thop_convention`).

    Returns ``{'per_parent': int, 'once': int, 'by_type': {type name: ops counted once}}``.
    """
    rules = _thop_convention_rules()
    paths: Counter = Counter()  # how often Module.apply (thop's hook installer) visits a module

    def walk(module: nn.Module) -> None:
        paths[module] += 1
        for child in module.children():
            walk(child)

    walk(model)
    once: Dict[nn.Module, float] = {}  # every call counted once
    ops: Dict[nn.Module, float] = {}  # thop's accumulator: every call counted once per hook

    def hook(module, args, output):
        if not args or not torch.is_tensor(args[0]) or not torch.is_tensor(output):
            return
        n = rules[type(module)](module, args[0], output)
        once[module] += n
        ops[module] += paths[module] * n

    handles = []
    for m in paths:
        if type(m) in rules:
            once[m] = ops[m] = 0
            handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if call is None:
                model(*inputs)
            else:
                call()
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    def per_parent(module: nn.Module) -> float:
        total = ops.get(module, 0)
        for _, child in module.named_children():
            if child in ops and not isinstance(child, (nn.Sequential, nn.ModuleList)):
                total += ops[child]
            else:
                total += per_parent(child)
        return total

    by_type = Counter()
    for m, v in once.items():
        by_type[type(m).__name__] += v
    return dict(per_parent=int(round(per_parent(model))), once=int(round(sum(once.values()))),
                by_type={k: int(round(v)) for k, v in sorted(by_type.items()) if v})


def count_macs_thop_convention(model: nn.Module, *inputs, shared_modules: str = 'per_parent',
                               call: Optional[Callable] = None) -> int:
    """MACs of ``model(*inputs)`` (or of ``call()``) under the papers' (thop's) convention.

    The rules are listed in the comment above this function: convolutions and
    linear layers without bias, plus per-type counts for normalisation, PReLU,
    softmax, average pooling and upsampling modules; functional ops count 0.
    ``shared_modules='per_parent'`` reproduces thop's total, in which a module
    registered under k parents is counted k^2 times (k hooks, then summed once
    per parent: an over-count, e.g. MemoryNet's shared PReLU); ``'once'`` counts
    every call of every module once. Hooks are on
    the modules of ``model``; ``call`` (default ``model(*inputs)``) is run once
    in eval mode under ``no_grad``. Not a replacement for :func:`count_macs`,
    which counts what actually runs (including attention written with matmul).
    """
    if shared_modules not in SHARED_MODULE_MODES:
        raise ValueError(f'shared_modules must be one of {SHARED_MODULE_MODES}, '
                         f'got {shared_modules!r}')
    return thop_convention_counts(model, *inputs, call=call)[shared_modules]
