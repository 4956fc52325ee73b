"""``crbench benchmark``: measure parameters, MACs, latency, peak memory (and diffusion
sampling time) of models.

    crbench benchmark CONFIG [CONFIG ...] [--out FILE.json | --out-dir DIR]
        [--size 256] [--repeats 5] [--warmup 1] [--device cpu] [--full-sampling]

Writes one JSON per config (default: leaderboard/efficiency/<config name>.json);
`python tools/leaderboard.py` puts them beside the papers' numbers. Input: batch 1,
the dataset config's `num_bands` bands, SIZE x SIZE. MACs = FlopCounterMode FLOPs / 2;
macs_G_paper_convention = the same call counted by the rules of thop's `profile`, which
the papers use (reimplemented, no thop dependency; it over-counts shared modules).
Latency and memory depend on the machine, its load and the thread count (recorded).
DE is measured network by network (CNP, WA, reference; the reference checkpoint
need not exist) and its sampling time per image is estimated as reference +
NFE x (CNP + WA); --full-sampling also runs the real sampler (slow on CPU at 256).
See crbench/analysis/ (benchmark.py, flops.py, profiling.py) for the exact definitions.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys


PROG = 'crbench benchmark'


def parse_args(argv=None, prog: str = PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='+', metavar='CONFIG')
    p.add_argument('--out', help='output JSON file (only with one CONFIG)')
    p.add_argument('--out-dir', default='leaderboard/efficiency',
                   help='folder for <config name>.json (default: leaderboard/efficiency)')
    p.add_argument('--size', type=int, default=256, help='input height and width (256)')
    p.add_argument('--repeats', type=int, default=5, help='timed calls; the median is kept')
    p.add_argument('--warmup', type=int, default=1, help='untimed calls before timing')
    p.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    p.add_argument('--threads', type=int, help='torch.set_num_threads (default: unchanged)')
    p.add_argument('--full-sampling', action='store_true',
                   help='diffusion models: also run the real sampling loop and time it')
    args = p.parse_args(argv)
    if args.out and len(args.configs) != 1:
        p.error('--out takes one CONFIG; use --out-dir for several')
    return args


def main(argv=None, prog: str = PROG) -> int:
    import torch

    from crbench.analysis.benchmark import benchmark_config, write_json
    from ._common import resolve_config
    args = parse_args(argv, prog)
    if args.threads:
        torch.set_num_threads(args.threads)
    for config in args.configs:
        try:  # relative paths also under the config roots, as for train and test
            config = resolve_config(config)
        except FileNotFoundError as err:
            print(f'{prog}: {err}', file=sys.stderr)
            return 2
        rec = benchmark_config(config, size=args.size, repeats=args.repeats,
                               warmup=args.warmup, device=args.device,
                               full_sampling=args.full_sampling)
        out = args.out or osp.join(args.out_dir,
                                   osp.splitext(osp.basename(config))[0] + '.json')
        write_json(rec, out)
        line = (f"{rec['model']} ({config}): {rec['params_M']:.3f} M params, "
                f"{rec['macs_G']:.2f} G MACs"
                + (f" ({rec['macs_G_paper_convention']:.2f} G by the papers' thop convention)"
                   if rec.get('macs_G_paper_convention') is not None else '')
                + f", {rec['latency_ms']:.1f} ms, "
                f"{rec['peak_memory_MB']:.0f} MB peak at {args.size}x{args.size}")
        s = rec.get('sampling')
        if s:
            line += (f"; sampling {s['latency_ms'] / 1000:.2f} s/image ({s['method']}"
                     + (f", NFE {s['nfe']}" if 'nfe' in s else '') + ')')
            if 'measured' in s:
                line += f"; measured {s['measured']['latency_ms'] / 1000:.2f} s/image"
        print(line)
        print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
