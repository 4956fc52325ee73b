#!/usr/bin/env python
"""Error and time against the number of network evaluations (NFE) for every sampler.

    python tools/benchmark_samplers.py [--steps 5 10 20 50 100] [--size 64] [--json out.json]

For each process (DE's ``GaussianDiffusion`` and EMRDM's ``MeanRevertingEDM``)
every registered sampler that can integrate it runs on Gaussian data
(``crbench/samplers/analytic.py``: x0 ~ N(0.3, 0.5^2) per pixel), whose exact
denoiser and exact probability-flow solution are known, so no trained network
is needed and the numbers isolate the sampler:

* ``path error``: max |output - exact end of the probability-flow path|
  (deterministic samplers; the ODE error of the discretisation);
* ``std error``: |std(output) / 0.5 - 1|, how far the spread of the samples is
  from the data's (every sampler; stochastic ones are judged by this);
* ``time``: wall time of the loop with the analytic denoiser (the sampler's own
  work; a network adds NFE x its forward time).

Same draw and seed for every sampler. Nothing is downloaded or written except
the optional JSON.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from crbench.models.diffusion.processes import GaussianDiffusion, MeanRevertingEDM  # noqa: E402
from crbench.registry import DIFFUSION_SAMPLERS  # noqa: E402
from crbench.samplers.analytic import GaussianData  # noqa: E402

# (registry name, extra arguments, deterministic): the sampler variants shown
VARIANTS = (
    ('DDIMSampler', {}, True),
    ('DDIMSampler', dict(eta=1.0), False),
    ('DDPMSampler', {}, False),
    ('EulerSampler', {}, True),
    ('HeunSampler', {}, True),
    ('StochasticEulerSampler', dict(s_churn=2.5), False),
    ('DPMSolverPP2MSampler', {}, True),
    ('DPMSolverPP2MSampler', dict(spacing='process'), True),
    ('DPMSolverPP2MSDESampler', {}, False),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, nargs='+', default=[5, 10, 20, 50, 100],
                        help='num_steps given to each sampler (NFE is counted)')
    parser.add_argument('--size', type=int, default=64, help='image size (pixels per side)')
    parser.add_argument('--batch', type=int, default=4, help='images per run')
    parser.add_argument('--bands', type=int, default=4, help='bands per image')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='also write the rows to this JSON file')
    return parser.parse_args(argv)


def processes(shape, generator):
    mu = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
    return {'DE (GaussianDiffusion)': GaussianDiffusion.linear(1000),
            'EMRDM (MeanRevertingEDM)': MeanRevertingEDM().with_mean(mu)}


def run_one(sampler, process, data, x_init, seed):
    times = sampler.times(process)
    want = data.exact_result(process, process.start(x_init, times[0]), times[0], times[-2])
    denoise, calls = data.denoiser(process), [0]

    def counted(x, t):
        calls[0] += 1
        return denoise(x, t)
    start = time.perf_counter()
    out = sampler(counted, x_init, process, generator=torch.Generator().manual_seed(seed))
    elapsed = time.perf_counter() - start
    return dict(nfe=calls[0], time_s=elapsed, path_error=(out - want).abs().max().item(),
                std_error=abs(out.std().item() / data.std - 1))


def main(argv=None) -> int:
    args = parse_args(argv)
    if min(args.steps) < 1 or args.size < 1 or args.batch < 1:
        print('benchmark_samplers: --steps, --size and --batch must be positive', file=sys.stderr)
        return 2
    DIFFUSION_SAMPLERS.import_from_location()
    data = GaussianData(mean=0.3, std=0.5)
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.batch, args.bands, args.size, args.size)
    x_init = torch.randn(shape, generator=generator, dtype=torch.float64)
    rows = []
    for process_name, process in processes(shape, generator).items():
        for name, extra, deterministic in VARIANTS:
            cls = DIFFUSION_SAMPLERS.get(name)
            if any(not callable(getattr(process, m, None)) for m in cls.process_methods):
                continue
            label = name + ''.join(f' {k}={v}' for k, v in extra.items())
            for steps in args.steps:
                if name in ('DDIMSampler', 'DDPMSampler') \
                        and steps > process.num_timesteps:
                    continue
                row = run_one(cls(num_steps=steps, **extra), process, data, x_init, args.seed)
                if not deterministic:
                    row['path_error'] = None
                rows.append(dict(process=process_name, sampler=label, steps=steps, **row))
    _print(rows, args)
    if args.json:
        from crbench.analysis.benchmark import write_json
        write_json(dict(settings=vars(args), data=dict(mean=data.mean, std=data.std),
                        rows=rows), args.json)
    return 0


def _print(rows, args):
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        Console = None
    header = ('process', 'sampler', 'steps', 'NFE', 'path error', 'std error', 'time [ms]')
    cells = [(r['process'], r['sampler'], str(r['steps']), str(r['nfe']),
              '-' if r['path_error'] is None else f"{r['path_error']:.2e}",
              f"{r['std_error']:.3f}", f"{1000 * r['time_s']:.1f}") for r in rows]
    title = (f'Samplers on Gaussian data (x0 ~ N(0.3, 0.5^2)), {args.batch}x{args.bands}x'
             f'{args.size}x{args.size}, float64, {torch.get_num_threads()} thread(s)')
    if Console is None:
        print(title)
        for line in [header] + cells:
            print(' | '.join(line))
        return
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify='left' if i < 2 else 'right')
    previous = None
    for row, line in zip(rows, cells):
        if previous is not None and (row['process'], row['sampler']) != previous:
            table.add_section()
        previous = (row['process'], row['sampler'])
        table.add_row(*line)
    Console(width=140).print(table)


if __name__ == '__main__':
    sys.exit(main())
