"""Measuring one callable: parameters it uses, latency, peak memory (and its MACs).

* Parameters: those of the modules of a root module that the call runs
  (forward pre-hooks record which modules are called), so loss networks and
  GAN discriminators are not counted.
* Latency: median wall-clock time of ``repeats`` calls under ``no_grad``,
  after ``warmup`` untimed calls (CUDA is synchronised around each call).
  All timings depend on the machine, the load and ``torch.get_num_threads()``.
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

:func:`measure` does all of it, plus both MAC counts of :mod:`crbench.analysis.flops`,
in the order memory (first call), MACs, paper-convention MACs, warm-up, timing.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import resource
import statistics
import sys
import time
from typing import Callable, Iterable, List, Optional

import torch
from torch import nn

from .flops import count_macs, thop_convention_counts


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

def sync_device(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure_latency(fn: Callable, device, repeats: int = 5, warmup: int = 1) -> List[float]:
    """Wall-clock milliseconds of ``repeats`` calls after ``warmup`` calls."""
    device = torch.device(device)
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        sync_device(device)
        times = []
        for _ in range(repeats):
            sync_device(device)
            start = time.perf_counter()
            fn()
            sync_device(device)
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
