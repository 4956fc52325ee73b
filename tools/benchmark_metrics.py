#!/usr/bin/env python
"""Time crbench's evaluation protocols against the per-image reference loops.

    python tools/benchmark_metrics.py [--size 256] [--batches 1 8] [--repeats 3]
        [--threads 1] [--clock cpu|wall] [--rows cuhk_official ...] [--json FILE]
        [--lpips-weights PATH]

For every protocol and batch size it evaluates the same seeded batch twice in
one process, side by side:

* ``reference``: a loop over the images, one image at a time, as the official
  evaluators do (docs/datasets.md §2.8, §4.8, §5.7), written in
  ``tests/evaluation/references.py`` independently of crbench: scikit-image
  ``peak_signal_noise_ratio`` / ``structural_similarity`` on the gray image of
  every band and lpips on every replicated band for ``cuhk_official``; NumPy
  RMSE/MAE/PSNR/SAM and EMRDM's ``pytorch_ssim`` (the 11×11 Gaussian window as
  a depthwise 2-D convolution, in float64) for ``sen12mscr_official`` and
  ``sen2mtc_official``. For the Gaussian-SSIM protocols the table also gives the
  time of a per-image, per-band SciPy ``gaussian_filter`` loop (``scipy loop``).
* ``crbench``: ``get_protocol(name)(pred, gt, lpips_model)`` on the batch.

and prints the two times, their ratio (reference / crbench) and the largest
relative difference of the values, over all metrics and images (LPIPS, a
float32 network, separately). Rows ``+LPIPS`` include LPIPS in both. Without
torchvision's AlexNet file (docs/environment.md, "LPIPS") LPIPS runs with a
random backbone: fine for timing, its values are not LPIPS and are not shown.

Times are the minimum over ``--repeats`` runs (default 3) of the process CPU
time (``--clock cpu``, the default: robust on a shared machine; with one
thread it equals the compute time) or of the wall time (``--clock wall``).
The reference and crbench are called in turn, so a slow phase of a shared
machine falls on both. Before timing, both run untimed at the timed image
size (the reference on one image, as it loops over images anyway; crbench
on the batch): kernels set up for a new shape and crbench's per-size caches
(the folded first AlexNet layer) are then not timed, as a test run pays them
once for its whole split.
"""
from __future__ import annotations

import argparse
import math
import os.path as osp
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

# name -> (protocol, bands, with LPIPS)
ROWS = {
    'cuhk_official': ('cuhk_official', 4, False),
    'cuhk_official+LPIPS': ('cuhk_official', 4, True),
    'sen12mscr_official': ('sen12mscr_official', 13, False),
    'sen2mtc_official': ('sen2mtc_official', 3, False),
    'sen2mtc_official+LPIPS': ('sen2mtc_official', 3, True),
}


def _references():
    """tests/evaluation/references.py (needs a source checkout)."""
    try:
        from tests.evaluation import references
    except ImportError as err:
        sys.stderr.write(
            f'error: the reference loops live in tests/evaluation/'
            f'references.py of a crbench source checkout ({err}); run this '
            f'tool from the repository\n')
        raise SystemExit(2)
    return references


def make_batch(protocol: str, batch: int, bands: int, size: int,
               seed: int = 0):
    """A seeded pred/gt pair in [-1, 1] (Sen2_MTC_New: DN about 0–3000)."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch, bands, size, size, generator=g) * 2 - 1
    pred = (gt + 0.2 * torch.randn(gt.shape, generator=g)).clamp(-1.1, 1.1)
    if protocol == 'sen2mtc_official':
        pred, gt = pred * 0.3 - 0.7, gt * 0.3 - 0.7
    return pred, gt


def reference_loop(protocol: str, pred, gt, lpips_model, refs,
                   ssim: Optional[Callable] = None) -> List[Dict[str, float]]:
    """The official evaluator's per-image loop (see the module docstring)."""
    rows = []
    for p, t in zip(pred, gt):
        if protocol == 'cuhk_official':
            rows.append(refs.ref_cuhk_official(p, t, lpips_model))
            continue
        if protocol == 'sen12mscr_official':
            p01 = ((p.double() + 1) / 2).numpy()
            t01 = ((t.double() + 1) / 2).numpy()
        else:
            p01, t01 = refs.ref_render_diffcr(p), refs.ref_render_diffcr(t)
        row = refs.ref_float_official(p01, t01, ssim)
        if lpips_model is not None:
            with torch.no_grad():
                row['LPIPS'] = lpips_model(
                    torch.from_numpy(2 * p01 - 1).float()[None],
                    torch.from_numpy(2 * t01 - 1).float()[None]).item()
        rows.append(row)
    return rows


def _rel(a: float, b: float) -> float:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


def max_differences(ours: Dict[str, torch.Tensor],
                    ref: List[Dict[str, float]]) -> Dict[str, float]:
    """Largest relative difference: float64 metrics and LPIPS apart."""
    out = {'metrics': 0.0, 'LPIPS': float('nan')}
    for i, row in enumerate(ref):
        for key, val in row.items():
            d = _rel(float(ours[key][i]), float(val))
            if key == 'LPIPS':
                out['LPIPS'] = d if math.isnan(out['LPIPS']) else max(
                    out['LPIPS'], d)
            else:
                out['metrics'] = max(out['metrics'], d)
    return out


def timed(fn: Callable, repeats: int, clock: str):
    """(result of the last call, minimum time over ``repeats`` calls)."""
    (result, best), = timed_alternately([fn], repeats, clock)
    return result, best


def timed_alternately(fns: Sequence[Callable], repeats: int, clock: str):
    """[(result of the last call, minimum time)] of each function, called
    in turn ``repeats`` times, so that a slow phase of a shared machine
    falls on all of them rather than on whichever ran during it."""
    now = time.process_time if clock == 'cpu' else time.perf_counter
    best, results = [float('inf')] * len(fns), [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = now()
            results[i] = fn()
            best[i] = min(best[i], now() - start)
    return list(zip(results, best))


def _lpips_model(weights: Optional[str]):
    from crbench.evaluation import build_lpips
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return build_lpips(weights, allow_random_backbone=True)


def run(rows: Sequence[str], batches: Sequence[int], size: int,
        repeats: int, clock: str, lpips_weights: Optional[str] = None
        ) -> List[dict]:
    from crbench.evaluation import get_protocol
    refs = _references()
    need_lpips = any(ROWS[r][2] for r in rows)
    lpips_model = _lpips_model(lpips_weights) if need_lpips else None
    results = []
    for name in rows:
        protocol, bands, with_lpips = ROWS[name]
        model = lpips_model if with_lpips else None
        proto = get_protocol(protocol)
        for batch in batches:
            pred, gt = make_batch(protocol, batch, bands, size)
            # untimed, at the timed image size: imports, crbench's per-size
            # caches and the kernels both sides set up for a new shape
            reference_loop(protocol, pred[:1], gt[:1], model, refs)
            proto(pred, gt, model)
            (ref, t_ref), (ours, t_ours) = timed_alternately(
                [lambda: reference_loop(protocol, pred, gt, model, refs),
                 lambda: proto(pred, gt, model)], repeats, clock)
            row = dict(row=name, protocol=protocol, batch=batch, bands=bands,
                       size=size, reference_s=t_ref, crbench_s=t_ours,
                       ratio=t_ref / t_ours,
                       max_rel_diff=max_differences(ours, ref))
            if protocol != 'cuhk_official' and not with_lpips:
                _, t_scipy = timed(
                    lambda: reference_loop(protocol, pred, gt, None, refs,
                                           ssim=refs.np_ssim_gaussian),
                    repeats, clock)
                row['scipy_loop_s'] = t_scipy
            results.append(row)
    return results


def render(results: List[dict], clock: str, threads: int,
           random_lpips: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f'crbench metrics vs the per-image reference loops '
                  f'({clock} time, {threads} thread(s), min over repeats)')
    for col in ('protocol', 'batch', 'bands×size', 'reference s',
                'crbench s', 'ratio', 'scipy loop s', 'max rel diff',
                'LPIPS rel diff'):
        table.add_column(col, justify='left' if col == 'protocol' else
                         'right')
    for r in results:
        d = r['max_rel_diff']
        table.add_row(
            r['row'], str(r['batch']), f"{r['bands']}×{r['size']}²",
            f"{r['reference_s']:.3f}", f"{r['crbench_s']:.3f}",
            f"{r['ratio']:.1f}×",
            f"{r['scipy_loop_s']:.3f}" if 'scipy_loop_s' in r else '',
            f"{d['metrics']:.1e}",
            '' if math.isnan(d['LPIPS']) else f"{d['LPIPS']:.1e}")
    console = Console(width=max(Console().width, 130))
    console.print(table)
    if random_lpips:
        console.print('LPIPS rows: random AlexNet backbone (no '
                      'alexnet-owt-7be5be79.pth found); times are valid, '
                      'the values are not LPIPS.')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=256,
                        help='image height and width (default 256)')
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed calls of each side, alternating; the '
                        'minimum counts (default 3)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (default 1)')
    parser.add_argument('--clock', choices=('cpu', 'wall'), default='cpu')
    parser.add_argument('--rows', nargs='+', default=list(ROWS),
                        choices=list(ROWS))
    parser.add_argument('--lpips-weights', default=None,
                        help="path of torchvision's alexnet-owt-7be5be79.pth")
    parser.add_argument('--json', default=None, help='also write the rows '
                        'as JSON to this file')
    args = parser.parse_args(argv)
    if args.size < 11 or args.repeats < 1 or min(args.batches) < 1:
        parser.error('--size must be >= 11 (the SSIM window), --repeats and '
                     '--batches >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    results = run(args.rows, args.batches, args.size, args.repeats,
                  args.clock, args.lpips_weights)
    random_lpips = False
    if any(ROWS[r][2] for r in args.rows):
        from crbench.evaluation import find_alexnet_weights
        from crbench.evaluation.lpips_metric import LPIPSUnavailableError
        try:
            find_alexnet_weights(args.lpips_weights)
        except LPIPSUnavailableError:
            random_lpips = True
    render(results, args.clock, args.threads, random_lpips)
    if args.json:
        payload = dict(clock=args.clock, threads=args.threads,
                       random_lpips_backbone=random_lpips,
                       torch=torch.__version__, rows=results)
        from crbench.analysis.benchmark import write_json
        write_json(payload, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
