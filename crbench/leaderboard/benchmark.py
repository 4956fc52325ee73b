"""Measure the cost of a model: parameters, MACs, latency, peak memory, sampling time.

Entry point: ``tools/benchmark.py CONFIG...``; one JSON per config in
``leaderboard/efficiency/``, which ``tools/leaderboard.py`` shows beside the
papers' numbers (``leaderboard/reported_efficiency.csv``).

What is measured, and how
-------------------------
* Input: batch 1, ``num_bands`` bands (from the dataset base config), ``size``
  x ``size`` pixels (256 by default, as EMRDM App. C.2); ``num_frames`` frames
  when the dataset config defines it (multi-temporal), plus a ``sar_bands``
  SAR input when it defines that. Values are uniform in [-1, 1] (seeded):
  costs do not depend on them.
* Parameters: those of the modules that run during inference (forward hooks
  record which modules are called), so loss networks and GAN discriminators
  are not counted.
* MACs (``macs_G``): ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 of one call.
  It counts convolutions, matrix products and attention (including
  ``scaled_dot_product_attention``) exactly; elementwise ops, normalisation,
  pooling and interpolation are not counted (the convention of thop / ptflops
  for convolutions and linear layers, except that those tools miss attention
  written with ``einsum`` / ``sdpa``). The CPU attention kernel
  ``_scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode
  does not know, gets the formula of the GPU attention kernels.
  ``macs_by_op`` gives the breakdown.
* Paper-convention MACs (``macs_G_paper_convention``): the count of the
  ``thop`` package's ``profile``, which the papers' MAC columns (EMRDM Table 6)
  come from, reimplemented without thop by :func:`count_macs_thop_convention`
  (rules in the comment above it): convolutions by thop's formula (bias not
  counted; a transposed convolution counted as output size x input channels x
  kernel, i.e. stride^d times its real MACs), linear layers, and per-type counts
  for norms, PReLU, softmax, average pooling and upsampling modules; nothing for
  functional ops (attention written with ``matmul`` counts 0). A module shared
  by k parents is counted k^2 times, as thop does (MemoryNet's PReLU shared by
  56 CABs: 563 G instead of 141 G); ``macs_G_paper_convention_shared_once``
  counts it once. One extra call of the model.
* Latency: median wall-clock time of ``repeats`` calls under ``no_grad`` in
  eval mode, after the memory and counting calls and ``warmup`` further
  untimed calls (CUDA is synchronised around each call).
  All timings depend on the machine, the load and ``torch.get_num_threads()``
  (all recorded).
* Peak memory, measured on the first call (before any warm-up):
  CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
  the call (tensors only). CPU: increase of the process's resident set size:
  peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the
  call, after ``malloc_trim``) minus the RSS before the call. This includes
  every allocation made during the call (activations, workspace, allocator
  overhead) but not the weights, which are resident already. Without
  ``/proc`` it falls back to the growth of ``resource.getrusage().ru_maxrss``,
  which is 0 when an earlier step of the process peaked higher. The method is
  recorded in ``memory_method``.

Diffusion models
----------------
``DiffusionEnhancement`` (DE) is benchmarked network by network, because its
frozen reference network E needs a trained checkpoint that may not exist yet
(the weights do not change the cost, so they are left random; the JSON says
whether the configured checkpoint exists):

* ``components``: CNP (noise predictor), WA (weight network) and the
  reference network, each measured alone.
* Top-level ``params`` / ``macs`` / ``latency_ms``: one network evaluation,
  CNP + WA (one sampling step), without the reference network, which is how
  DE Table X and EMRDM Table 6 count DE (CNP + WA = 36.80 M parameters).
  ``params_with_reference`` adds E.
* ``sampling``: per image. The number of network evaluations (NFE) is counted
  by running the configured sampler with a stub denoiser; then
  ``macs = reference + NFE x (CNP + WA)`` and, labelled
  ``method='estimate'``, ``latency_ms = reference latency + NFE x step latency``
  (the sampler's own elementwise work is ignored). With ``full_sampling=True``
  the whole framework samples for real (the reference loaded from its
  checkpoint, or from random weights written to a temporary file when the
  checkpoint is missing) and ``sampling.measured`` holds the measured latency
  and MACs; at 256 x 256 this takes minutes on a CPU.

Any other framework is measured through ``restore(inputs)``, i.e. one whole
inference per image; for a diffusion framework that is the full sampling loop,
recorded as ``sampling.method='measured'``.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from crbench.results import device_name

SCHEMA_VERSION = 1
KIND = 'efficiency'


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


@contextlib.contextmanager
def record_called_modules(root: nn.Module):
    """Collect the modules of ``root`` that are called inside the block."""
    called: List[nn.Module] = []
    seen = set()

    def hook(module, args):
        if id(module) not in seen:
            seen.add(id(module))
            called.append(module)

    handles = [m.register_forward_pre_hook(hook) for m in root.modules()]
    try:
        yield called
    finally:
        for h in handles:
            h.remove()


def count_params(modules: Iterable[nn.Module]) -> int:
    """Parameters owned directly by ``modules`` (each parameter once)."""
    params = {}
    for m in modules:
        for p in m.parameters(recurse=False):
            params[id(p)] = p.numel()
    return sum(params.values())


def used_params(root: nn.Module, fn: Callable) -> int:
    """Parameters of the modules of ``root`` that ``fn()`` calls."""
    with record_called_modules(root) as called, torch.no_grad():
        fn()
    return count_params(called)


# ---------------------------------------------------------------------------
# Timing and memory
# ---------------------------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure_latency(fn: Callable, device, repeats: int = 5, warmup: int = 1) -> List[float]:
    """Wall-clock milliseconds of ``repeats`` calls after ``warmup`` calls."""
    device = torch.device(device)
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        _sync(device)
        times = []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _maxrss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    scale = 1 if sys.platform == 'darwin' else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure_peak_memory(fn: Callable, device) -> tuple:
    """``(bytes, method)``: memory one call of ``fn`` needs beyond what is already held."""
    device = torch.device(device)
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        with torch.no_grad():
            fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before,
                'cuda: max_memory_allocated - memory_allocated before the call')
    _malloc_trim()
    rss = _proc_status_kb('VmRSS')
    if rss is not None and _reset_peak_rss() and _proc_status_kb('VmHWM') is not None:
        with torch.no_grad():
            fn()
        peak = _proc_status_kb('VmHWM')
        return (max(peak - rss, 0) * 1024,
                'cpu: peak RSS (VmHWM reset via /proc/self/clear_refs) - RSS before the call')
    before = _maxrss_bytes()
    with torch.no_grad():
        fn()
    return (max(_maxrss_bytes() - before, 0),
            'cpu: growth of ru_maxrss during the call (0 if the process peaked higher before)')


# ---------------------------------------------------------------------------
# One callable, fully measured
# ---------------------------------------------------------------------------

def _paper_convention(root: Optional[nn.Module], fn: Callable) -> dict:
    """JSON fields of :func:`thop_convention_counts` (nothing without a root module)."""
    if root is None:
        return {}
    c = thop_convention_counts(root, call=fn)
    return dict(macs_paper_convention=c['per_parent'],
                macs_G_paper_convention=c['per_parent'] / 1e9,
                macs_G_paper_convention_shared_once=c['once'] / 1e9,
                macs_paper_convention_by_type_G={k: v / 1e9 for k, v in c['by_type'].items()})


def measure(fn: Callable, root: Optional[nn.Module], device, repeats: int,
            warmup: int) -> dict:
    """Params (of ``root``'s modules that ``fn`` calls), MACs, latency and memory of ``fn``."""
    mem, mem_method = measure_peak_memory(fn, device)  # first call: nothing cached yet
    with (record_called_modules(root) if root is not None
          else contextlib.nullcontext([])) as called:
        macs, by_op, _ = count_macs(fn)
    params = count_params(called)
    paper = _paper_convention(root, fn)
    times = measure_latency(fn, device, repeats=repeats, warmup=warmup)
    return dict(params=params, params_M=params / 1e6, macs=macs, macs_G=macs / 1e9,
                macs_by_op_G={k: v / 1e9 for k, v in by_op.items()}, **paper,
                latency_ms=statistics.median(times), latency_ms_all=times,
                peak_memory_MB=mem / 2 ** 20, memory_method=mem_method)


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------

def _register():
    from crbench.setup_env import register_all_modules
    register_all_modules()


def load_config(path: str):
    from mmengine.config import Config
    return Config.fromfile(path)


def input_spec(cfg, size: int) -> Dict[str, tuple]:
    """Shapes of the inputs of one sample, batch 1, from the dataset base config."""
    if 'num_bands' not in cfg:
        raise KeyError('the config (its dataset base config) defines no num_bands; '
                       'see docs/contracts.md, Configs')
    # Sen2_MTC_New: 4 cloudy bands per date, 3 target bands (num_bands)
    bands = int(cfg.get('cloudy_bands') or cfg.num_bands)
    frames = cfg.get('num_frames')
    cloudy = (1, int(frames), bands, size, size) if frames else (1, bands, size, size)
    spec = {'cloudy': cloudy}
    model_keys = tuple(cfg.model.get('input_keys', ()) or ())
    if cfg.get('sar_bands') and ('sar' in model_keys or not model_keys):
        spec['sar'] = (1, int(cfg.sar_bands), size, size)
    return spec


def make_inputs(spec: Dict[str, tuple], device, seed: int = 0) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(shape, generator=g) * 2 - 1).to(device) for k, shape in spec.items()}


def model_key(cfg, config_path: str) -> str:
    name = cfg.get('model_name')
    if name:
        return str(name)
    return osp.splitext(osp.basename(config_path))[0].split('_')[0]


def _is_de(model_cfg) -> bool:
    from crbench.registry import MODELS
    from crbench.models.diffusion.de import DiffusionEnhancement
    cls = MODELS.get(model_cfg['type'])
    return isinstance(cls, type) and issubclass(cls, DiffusionEnhancement)


def _provenance() -> dict:
    from crbench.results import git_commit
    from crbench.version import __version__
    return dict(crbench_version=__version__, git_commit=git_commit() or '',
                torch_version=torch.__version__, threads=torch.get_num_threads(),
                machine=f'{platform.machine()} {platform.processor()}'.strip(),
                python=platform.python_version())


def _relpath(path: str) -> str:
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.abspath(path)
    return osp.relpath(path, repo) if path.startswith(repo + os.sep) else path


def benchmark_config(config: str, size: int = 256, repeats: int = 5, warmup: int = 1,
                     device: str = 'cpu', full_sampling: bool = False, seed: int = 0) -> dict:
    """Benchmark the model of ``config`` (see the module docstring). Returns the JSON dict."""
    if size < 1 or repeats < 1 or warmup < 0:
        raise ValueError('size and repeats must be >= 1 and warmup >= 0')
    _register()
    cfg = load_config(config)
    dev = torch.device(device)
    spec = input_spec(cfg, size)
    inputs = make_inputs(spec, dev, seed)
    record = dict(
        schema_version=SCHEMA_VERSION, kind=KIND, model=model_key(cfg, config),
        config=_relpath(config), dataset=str(cfg.get('dataset_name', '')),
        framework=str(cfg.model['type']), size=size,
        input_shapes={k: list(v) for k, v in spec.items()},
        device=device, device_name=device_name(dev), repeats=repeats, warmup=warmup)
    torch.manual_seed(seed)
    if _is_de(cfg.model):
        record.update(_benchmark_de(cfg, inputs, dev, repeats, warmup, full_sampling))
    else:
        record.update(_benchmark_restorer(cfg, inputs, dev, repeats, warmup))
    record.update(_provenance())
    record['date'] = time.strftime('%Y-%m-%dT%H:%M:%S%z')
    return record


def _without_pretrained_loss_weights(node):
    """Let training-only loss networks (VGG perceptual) build without their weights
    file: they are not part of inference and are excluded from every count here."""
    if isinstance(node, dict):
        if node.get('type') == 'VGGPerceptualLoss':
            node['allow_random'] = True
        for value in node.values():
            _without_pretrained_loss_weights(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _without_pretrained_loss_weights(value)
    return node


def _benchmark_restorer(cfg, inputs, dev, repeats, warmup) -> dict:
    from crbench.registry import MODELS
    model_cfg = _without_pretrained_loss_weights(cfg.model.to_dict())
    model = MODELS.build(model_cfg).to(dev).eval()

    def run():
        return model.restore(inputs)

    m = measure(run, model, dev, repeats, warmup)
    out = dict(m, notes='one restore() call per image')
    if hasattr(model, 'sampler'):
        out['sampling'] = dict(method='measured', latency_ms=m['latency_ms'],
                               macs=m['macs'], macs_G=m['macs_G'],
                               note='restore() runs the whole sampler')
        out['notes'] = 'one restore() call per image, including the whole sampling loop'
    return out


def count_nfe(sampler, process, shape: Sequence[int]) -> int:
    """Denoiser calls the sampler makes for one image (stub denoiser, tiny tensors)."""
    calls = [0]

    def stub(x_t, t):
        calls[0] += 1
        return torch.zeros_like(x_t)

    sampler(stub, torch.zeros(tuple(shape)), process, generator=torch.Generator().manual_seed(0))
    return calls[0]


def _benchmark_de(cfg, inputs, dev, repeats, warmup, full_sampling) -> dict:
    from crbench.registry import MODELS
    mcfg = cfg.model
    fusion = mcfg.get('fusion', 'wa')
    cloudy = inputs['cloudy']
    b, _, h, w = cloudy.shape
    cnp = MODELS.build(mcfg['cnp']).to(dev).eval()
    out_bands = getattr(cnp, 'out_channels', cloudy.shape[1])
    x_t = torch.randn((b, out_bands, h, w), generator=torch.Generator().manual_seed(1)).to(dev)
    t = torch.full((b,), 999, dtype=torch.long, device=dev)
    comps, fns = {}, {}
    comps['cnp'] = measure(lambda: cnp(x_t, t, cloudy), cnp, dev, repeats, warmup)
    if fusion != 'none':
        reference = MODELS.build(mcfg['reference']).to(dev).eval()
        with torch.no_grad():
            ref_out = reference((cloudy + 1) / 2)
        if isinstance(ref_out, (tuple, list)):
            ref_out = ref_out[mcfg.get('reference_output_index', -1)]
        ref_out = (ref_out * 2 - 1).detach()
        if fusion == 'wa':
            wa = MODELS.build(mcfg['weight_net']).to(dev).eval()
            comps['weight_net'] = measure(lambda: wa(x_t, t, cloudy, ref_out), wa, dev,
                                          repeats, warmup)
            del wa
        comps['reference'] = measure(lambda: reference((cloudy + 1) / 2), reference, dev,
                                     repeats, warmup)
        del reference
    step = [k for k in comps if k != 'reference']
    params = sum(comps[k]['params'] for k in step)
    macs = sum(comps[k]['macs'] for k in step)
    latency = sum(comps[k]['latency_ms'] for k in step)
    by_op = Counter()
    for k in step:
        by_op.update(comps[k]['macs_by_op_G'])
    ref = comps.get('reference')
    paper = {}
    if all('macs_paper_convention' in comps[k] for k in step):
        per_parent = sum(comps[k]['macs_paper_convention'] for k in step)
        paper = dict(macs_paper_convention=per_parent, macs_G_paper_convention=per_parent / 1e9,
                     macs_G_paper_convention_shared_once=sum(
                         comps[k]['macs_G_paper_convention_shared_once'] for k in step))

    # NFE from the configured sampler (a meta-device pure-diffusion copy gives
    # the sampler and the process exactly as the framework builds them)
    with torch.device('meta'):
        bare = MODELS.build(dict(mcfg, fusion='none', stage=1, weight_net=None, reference=None,
                                 reference_checkpoint=None))
    nfe = count_nfe(bare.sampler, bare.process, (1, out_bands, 8, 8))
    sampler_cfg = mcfg.get('sampler') or {}
    sampling = dict(
        method='estimate', sampler=type(bare.sampler).__name__,
        steps=getattr(bare.sampler, 'num_steps', None), nfe=nfe,
        macs=(ref['macs'] if ref else 0) + nfe * macs,
        latency_ms=(ref['latency_ms'] if ref else 0.0) + nfe * latency,
        note='estimate: reference once + NFE x (CNP + WA) forward latency; the '
             "sampler's elementwise work is not included")
    sampling['macs_G'] = sampling['macs'] / 1e9
    del bare
    if sampler_cfg:
        sampling['sampler_cfg'] = dict(sampler_cfg)
    ckpt = mcfg.get('reference_checkpoint')
    out = dict(
        params=params, params_M=params / 1e6, macs=macs, macs_G=macs / 1e9,
        macs_by_op_G=dict(sorted(by_op.items())), **paper, latency_ms=latency,
        peak_memory_MB=max(c['peak_memory_MB'] for c in comps.values()),
        memory_method=comps['cnp']['memory_method'] + '; largest of the networks, which run '
                                                      'one after another',
        components=comps, sampling=sampling, fusion=fusion,
        reference_type=str(mcfg['reference']['type']) if fusion != 'none' else '',
        reference_checkpoint=str(ckpt or ''),
        reference_checkpoint_exists=bool(ckpt and osp.isfile(ckpt)),
        notes=('one network evaluation = CNP + WA (one sampling step), reference excluded as in '
               'DE Table X / EMRDM Table 6; networks measured one by one with random weights'))
    if ref:
        out['params_with_reference'] = params + ref['params']
        out['params_with_reference_M'] = out['params_with_reference'] / 1e6
    if full_sampling:
        sampling['measured'] = _de_full_sampling(cfg, inputs, dev, repeats, warmup)
    return out


def _de_full_sampling(cfg, inputs, dev, repeats, warmup) -> dict:
    """Run the whole DE framework (real sampler loop) and measure it."""
    from crbench.registry import MODELS
    mcfg = dict(cfg.model)
    note = 'reference loaded from its checkpoint'
    with tempfile.TemporaryDirectory() as tmp:
        if mcfg.get('fusion', 'wa') != 'none':
            ckpt = mcfg.get('reference_checkpoint')
            if not (ckpt and osp.isfile(ckpt)):
                ref = MODELS.build(mcfg['reference'])
                ckpt = osp.join(tmp, 'random_reference.pth')
                torch.save(ref.state_dict(), ckpt)
                del ref
                note = 'reference checkpoint missing: random reference weights (same cost)'
            mcfg['reference_checkpoint'] = ckpt
        model = MODELS.build(mcfg).to(dev).eval()

    def run():
        return model.restore(inputs)

    macs, _, _ = count_macs(run)
    times = measure_latency(run, dev, repeats=repeats, warmup=warmup)
    return dict(latency_ms=statistics.median(times), latency_ms_all=times, macs=macs,
                macs_G=macs / 1e9, note=note)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def _clean(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(record: dict, path: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(_clean(record), f, indent=1, sort_keys=False)
        f.write('\n')
    os.replace(tmp, path)
    return path
