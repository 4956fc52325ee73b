#!/usr/bin/env python
"""Time and peak memory of crbench's neighbourhood attention (NA) against dense attention.

    python tools/benchmark_neighborhood_attention.py [--sizes 64 128] [--heads 2]
        [--d-head 64] [--kernel-size 7] [--repeats 3] [--json FILE]
        [--memory profiler|rss] [--max-dense-gib 8]

Implementations (q, k, v of shape [B, S, S, heads, d_head], S x S tokens, fp32, CPU):

* ``na``: ``crbench.models.diffusion.networks.neighborhood_attention`` (pure-PyTorch kernel,
  natten is never used: it needs CUDA);
* ``dense_masked``: the same neighbourhood attention written densely: N x N logits
  (N = S^2), entries outside each query's k x k window set to -inf, softmax, @ v.
  Its N x N boolean mask is built once beforehand and NOT counted in its peak
  (reported as ``persistent_bytes``): the comparison favours the dense baseline;
* ``dense_global``: plain global attention, softmax(q k^T scale) v with the N x N
  matrix materialised (explicit matmul + softmax);
* ``sdpa_global``: global attention through ``F.scaled_dot_product_attention`` (what
  HDiT's global levels use; on CPU it may use a fused kernel that never stores N x N).
* ``natten``: ``natten.functional.na2d`` where natten imports (forward only: natten
  has no CPU backward); otherwise its rows are skipped with the reason. natten 0.21.7
  (a source distribution from PyPI, pure Python on CPU through FlexAttention) was
  12–180x slower than ``na`` here, which is why crbench calls natten only on GPUs.

Modes: ``forward`` (under ``torch.no_grad``) and ``forward+backward`` (inputs require
grad, backward of ``out.sum()``).

Time: median wall time of ``--repeats`` calls after ``--warmup`` untimed calls.

Peak memory, ``--memory profiler`` (default): the call runs once under
``torch.profiler.profile(profile_memory=True)``; every CPU allocation and free
of the c10 allocator is a ``[memory]`` event with a signed byte count, and the
peak is the maximum of their running sum in time order, i.e. the high-water mark
of tensor bytes allocated *during* the call (inputs, which exist before, are not
counted; outputs, gradients, autograd-saved tensors and temporaries are).
``--memory rss``: each case runs in a fresh Python subprocess (Linux only) with
glibc's mmap threshold fixed at 64 KiB, so that freed tensors leave the RSS; after
a warm-up call at 8 x 8 tokens it runs the case once and reports the kernel's
high-water mark minus the RSS before the call (``VmHWM - VmRSS`` from
/proc/self/status; see ``rss_child`` for when this is only an upper bound,
flagged ``peak_is_upper_bound``). It includes allocator overhead and page
granularity, so it is coarser, but it is independent of the profiler.

Dense cases whose estimated memory (2 N x N fp32 matrices per head and sample,
3 with backward: the measured peaks at 64 x 64 tokens) exceeds ``--max-dense-gib``
are skipped and reported as such. A run also reports the largest difference between ``na`` and
``dense_masked`` outputs, as a correctness check of what is compared.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from crbench.models.diffusion.networks.neighborhood_attention import (  # noqa: E402
    neighborhood_attention_2d, neighborhood_index_maps)

IMPLS = ('na', 'dense_masked', 'dense_global', 'sdpa_global', 'natten')
MODES = ('forward', 'forward+backward')
MIB = 2 ** 20


# ------------------------------------------------------------------------------------------
# the attention variants (q, k, v: [B, S, S, heads, d])
# ------------------------------------------------------------------------------------------
def neighborhood_mask(side: int, kernel_size: int) -> torch.Tensor:
    """[N, N] bool, True where key n is in query m's window (natten's definition)."""
    rows, cols = neighborhood_index_maps(side, side, kernel_size)  # [k, S] each
    row_ok = torch.zeros(side, side, dtype=torch.bool)  # [query row, key row]
    col_ok = torch.zeros(side, side, dtype=torch.bool)
    row_ok[torch.arange(side).expand_as(rows), rows] = True
    col_ok[torch.arange(side).expand_as(cols), cols] = True
    n = side * side
    return (row_ok[:, None, :, None] & col_ok[None, :, None, :]).reshape(n, n)


def _heads_first(t: torch.Tensor) -> torch.Tensor:
    b, h, w, nh, d = t.shape
    return t.reshape(b, h * w, nh, d).transpose(1, 2)  # [B, heads, N, d]


def _back(out: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return out.transpose(1, 2).reshape(like.shape)


def dense_attention(q, k, v, scale: float, mask: Optional[torch.Tensor] = None):
    """softmax(q k^T scale [masked]) v with the N x N matrix materialised."""
    qh, kh, vh = _heads_first(q), _heads_first(k), _heads_first(v)
    logits = torch.matmul(qh, kh.transpose(-1, -2)) * scale
    if mask is not None:
        logits = logits.masked_fill(~mask, float('-inf'))
    return _back(torch.matmul(torch.softmax(logits, dim=-1), vh), q)


def sdpa_attention(q, k, v, scale: float):
    qh, kh, vh = _heads_first(q), _heads_first(k), _heads_first(v)
    return _back(F.scaled_dot_product_attention(qh, kh, vh, scale=scale), q)


def make_call(impl: str, side: int, kernel_size: int, scale: float) -> tuple:
    """(fn(q, k, v) -> out, persistent bytes built beforehand)."""
    if impl == 'na':
        return (lambda q, k, v: neighborhood_attention_2d(q, k, v, kernel_size, scale=scale,
                                                          use_natten=False)), 0
    if impl == 'dense_masked':
        mask = neighborhood_mask(side, kernel_size)
        return (lambda q, k, v: dense_attention(q, k, v, scale, mask)), mask.numel()
    if impl == 'dense_global':
        return (lambda q, k, v: dense_attention(q, k, v, scale)), 0
    if impl == 'sdpa_global':
        return (lambda q, k, v: sdpa_attention(q, k, v, scale)), 0
    if impl == 'natten':
        import natten
        return (lambda q, k, v: natten.functional.na2d(
            q, k, v, kernel_size=kernel_size, scale=scale)), 0
    raise KeyError(f'unknown implementation {impl!r}; choose from {IMPLS}')


def make_inputs(batch: int, side: int, heads: int, d_head: int, requires_grad: bool,
                seed: int = 0) -> List[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, side, side, heads, d_head, generator=g).requires_grad_(
        requires_grad) for _ in range(3)]


def run_once(fn: Callable, inputs: List[torch.Tensor], mode: str) -> None:
    if mode == 'forward':
        with torch.no_grad():
            fn(*inputs)
    else:
        fn(*inputs).sum().backward()
        for t in inputs:
            t.grad = None


# ------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------
def profiler_peak_bytes(fn: Callable[[], None]) -> int:
    """High-water mark of CPU tensor bytes allocated while ``fn`` runs (module docstring)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == '[memory]']
        deltas = [(e.start_ns(), e.nbytes()) for e in events
                  if str(e.device_type()).endswith('CPU')]
    except AttributeError as err:  # pragma: no cover - profiler internals changed
        raise RuntimeError('this torch profiler does not expose memory events '
                           f'({err}); use --memory rss') from None
    if not deltas:
        raise RuntimeError('the profiler recorded no memory events; use --memory rss')
    current = peak = 0
    for _, nbytes in sorted(deltas, key=lambda d: d[0]):
        current += nbytes
        peak = max(peak, current)
    return peak


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def rss_child(spec: dict) -> dict:
    """Run one case in this (fresh) process: peak RSS during the call minus RSS before.

    A warm-up call at a tiny size triggers one-time library allocations first. If the
    kernel supports it, the high-water mark (VmHWM) is then reset to the current RSS
    (writing 5 to /proc/self/clear_refs). When the call raises VmHWM, the peak is
    exact (``VmHWM after - VmRSS before``); when it does not, the call stayed below
    an earlier mark and ``VmHWM before - VmRSS before`` is reported as an upper bound.
    """
    torch.set_num_threads(spec['threads'])
    grad = spec['mode'] != 'forward'
    tiny = min(spec['side'], 8)
    fn, _ = make_call(spec['impl'], tiny, spec['kernel_size'], spec['scale'])
    run_once(fn, make_inputs(spec['batch'], tiny, spec['heads'], spec['d_head'], grad),
             spec['mode'])
    fn, _ = make_call(spec['impl'], spec['side'], spec['kernel_size'], spec['scale'])
    inputs = make_inputs(spec['batch'], spec['side'], spec['heads'], spec['d_head'], grad)
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass  # no reset: the upper-bound rule below still holds
    rss0, hwm0 = _status_kib('VmRSS'), _status_kib('VmHWM')
    run_once(fn, inputs, spec['mode'])
    hwm1 = _status_kib('VmHWM')
    exact = hwm1 > hwm0
    peak = (hwm1 if exact else hwm0) - rss0
    return dict(peak_bytes=peak * 1024, exact=exact, rss_before=rss0 * 1024)


def rss_peak_bytes(spec: dict) -> int:
    # a fixed mmap threshold: glibc then maps every tensor above 64 KiB separately and
    # returns it on free (its default dynamic threshold would keep freed blocks resident)
    env = dict(os.environ, OMP_NUM_THREADS=str(spec['threads']),
               MALLOC_MMAP_THRESHOLD_='65536')
    proc = subprocess.run([sys.executable, osp.abspath(__file__), '--_rss-child',
                           json.dumps(spec)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'RSS measurement of {spec} failed:\n{proc.stderr[-2000:]}')
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(out['peak_bytes']), bool(out['exact'])


def dense_estimate_bytes(batch: int, side: int, heads: int, mode: str) -> int:
    """Estimated peak of a dense case: 2 (3 with backward) N x N fp32 matrices."""
    n = side * side
    return (2 if mode == 'forward' else 3) * batch * heads * n * n * 4


def natten_unavailable(mode: str) -> Optional[str]:
    """Why natten's own kernel cannot be timed here, or None."""
    try:
        import natten  # noqa: F401
    except Exception as err:  # not installed, or a broken CUDA-only build
        return f'natten not importable ({type(err).__name__})'
    if mode != 'forward':
        return 'natten has no CPU backward'
    return None


def benchmark(sizes=(64, 128), heads: int = 2, d_head: int = 64, kernel_size: int = 7,
              batch: int = 1, repeats: int = 3, warmup: int = 1, impls=IMPLS, modes=MODES,
              memory: str = 'profiler', max_dense_gib: float = 8.0,
              progress: Optional[Callable[[dict], None]] = None) -> dict:
    """Run every (size, implementation, mode) case; returns the JSON record."""
    if memory not in ('profiler', 'rss'):
        raise ValueError(f"memory must be 'profiler' or 'rss', got {memory!r}")
    if kernel_size % 2 != 1:
        raise ValueError(f'kernel_size must be odd, got {kernel_size}')
    bad = [s for s in sizes if s < 1]
    if bad:
        raise ValueError(f'sizes must be positive, got {bad}')
    scale = d_head ** -0.5
    threads = torch.get_num_threads()
    results = []
    checks = []
    for side in sizes:
        # correctness of what is compared: NA == masked dense attention
        if 'na' in impls and 'dense_masked' in impls and dense_estimate_bytes(
                batch, side, heads, 'forward') <= max_dense_gib * 2 ** 30:
            q, k, v = make_inputs(batch, side, heads, d_head, False)
            with torch.no_grad():
                diff = (make_call('na', side, kernel_size, scale)[0](q, k, v)
                        - make_call('dense_masked', side, kernel_size, scale)[0](q, k, v))
            checks.append(dict(tokens_side=side, max_abs_diff_na_vs_dense_masked=float(
                diff.abs().max())))
        for impl in impls:
            for mode in modes:
                row = dict(tokens_side=side, num_tokens=side * side, impl=impl, mode=mode,
                           heads=heads, d_head=d_head, batch=batch,
                           kernel_size=kernel_size if impl in ('na', 'dense_masked', 'natten')
                           else None)
                estimate = dense_estimate_bytes(batch, side, heads, mode)
                unavailable = natten_unavailable(mode) if impl == 'natten' else None
                if unavailable:
                    row.update(status='skipped', time_ms=None, peak_bytes=None,
                               peak_mib=None, reason=unavailable)
                    results.append(row)
                    if progress:
                        progress(row)
                    continue
                if impl in ('dense_masked', 'dense_global') \
                        and estimate > max_dense_gib * 2 ** 30:
                    row.update(status='skipped', time_ms=None, peak_bytes=None,
                               peak_mib=None, reason=f'estimated {estimate / 2 ** 30:.1f} '
                               f'GiB > --max-dense-gib {max_dense_gib}')
                    results.append(row)
                    if progress:
                        progress(row)
                    continue
                fn, persistent = make_call(impl, side, kernel_size, scale)
                inputs = make_inputs(batch, side, heads, d_head, mode != 'forward')
                for _ in range(warmup):
                    run_once(fn, inputs, mode)
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    run_once(fn, inputs, mode)
                    times.append((time.perf_counter() - start) * 1e3)
                exact = True
                if memory == 'profiler':
                    peak = profiler_peak_bytes(lambda: run_once(fn, inputs, mode))
                else:
                    peak, exact = rss_peak_bytes(dict(impl=impl, side=side, kernel_size=kernel_size,
                                               scale=scale, batch=batch, heads=heads,
                                               d_head=d_head, mode=mode, threads=threads))
                del fn, inputs
                row.update(status='ok', time_ms=statistics.median(times),
                           time_ms_all=times, peak_bytes=int(peak), peak_mib=peak / MIB,
                           persistent_bytes=int(persistent), peak_is_upper_bound=not exact)
                results.append(row)
                if progress:
                    progress(row)
    for side in sizes:  # memory and time of each case relative to NA
        for mode in modes:
            base = next((r for r in results if r['tokens_side'] == side and r['mode'] == mode
                         and r['impl'] == 'na' and r['status'] == 'ok'), None)
            for r in results:
                if base and r['tokens_side'] == side and r['mode'] == mode \
                        and r['status'] == 'ok':
                    r['memory_vs_na'] = r['peak_bytes'] / max(base['peak_bytes'], 1)
                    r['time_vs_na'] = r['time_ms'] / max(base['time_ms'], 1e-9)
    return dict(
        benchmark='neighborhood_attention',
        config=dict(sizes=list(sizes), heads=heads, d_head=d_head, kernel_size=kernel_size,
                    batch=batch, dtype='float32', device='cpu', repeats=repeats,
                    warmup=warmup, memory_method=memory, max_dense_gib=max_dense_gib,
                    threads=threads),
        environment=dict(torch=torch.__version__, python=platform.python_version(),
                         machine=platform.machine(), processor=platform.processor() or None),
        checks=checks,
        results=results)


# ------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------
def _fmt(value, spec: str, missing: str = '-') -> str:
    return missing if value is None else format(value, spec)


def print_table(record: dict) -> None:
    cfg = record['config']
    title = (f"Neighbourhood attention vs dense, CPU fp32, heads {cfg['heads']}, d_head "
             f"{cfg['d_head']}, kernel {cfg['kernel_size']}, batch {cfg['batch']}, "
             f"{cfg['threads']} thread(s), memory: {cfg['memory_method']}")
    header = ['tokens', 'impl', 'mode', 'time ms', 'x NA', 'peak MiB', 'x NA', 'note']
    rows = []
    for r in record['results']:
        rows.append([f"{r['tokens_side']}x{r['tokens_side']}", r['impl'], r['mode'],
                     _fmt(r.get('time_ms'), '.2f'), _fmt(r.get('time_vs_na'), '.2f'),
                     _fmt(r.get('peak_mib'), '.2f'), _fmt(r.get('memory_vs_na'), '.1f'),
                     r.get('reason', '')])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text fallback
        print(title)
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for line in [header] + rows:
            print('  '.join(str(x).ljust(w) for x, w in zip(line, widths)))
    else:
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify='right' if 3 <= i <= 6 else 'left')
        for line in rows:
            table.add_row(*line)
        Console(width=max(Console().width, 132)).print(table)
    for check in record['checks']:
        print(f"{check['tokens_side']}x{check['tokens_side']}: max |NA - dense_masked| = "
              f"{check['max_abs_diff_na_vs_dense_masked']:.2e}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', type=int, nargs='+', default=[64, 128],
                   help='token grid sides S (S x S tokens; default 64 128)')
    p.add_argument('--heads', type=int, default=2)
    p.add_argument('--d-head', type=int, default=64)
    p.add_argument('--kernel-size', type=int, default=7)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3, help='timed calls; the median is kept')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--impls', nargs='+', choices=IMPLS, default=list(IMPLS))
    p.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    p.add_argument('--memory', choices=('profiler', 'rss'), default='profiler',
                   help='peak memory method (module docstring)')
    p.add_argument('--max-dense-gib', type=float, default=8.0,
                   help='skip dense cases estimated above this many GiB (default 8)')
    p.add_argument('--threads', type=int, help='torch.set_num_threads (default: unchanged)')
    p.add_argument('--json', help='write the record here')
    p.add_argument('--_rss-child', help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._rss_child:
        print(json.dumps(rss_child(json.loads(args._rss_child))))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        record = benchmark(args.sizes, args.heads, args.d_head, args.kernel_size, args.batch,
                           args.repeats, args.warmup, tuple(args.impls), tuple(args.modes),
                           args.memory, args.max_dense_gib)
    except (ValueError, RuntimeError) as err:
        print(f'benchmark_neighborhood_attention: {err}', file=sys.stderr)
        return 2
    print_table(record)
    if args.json:
        folder = osp.dirname(osp.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(record, f, indent=2)
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
