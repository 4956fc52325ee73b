"""``crbench synthetic``: write a small synthetic dataset in a real dataset's on-disk layout.

    crbench synthetic --dataset cuhk_cr2 --out data/synthetic [--size 64]

Images are 64×64 on disk unless --size says otherwise (the real datasets are
256 or 512: fine on a GPU, slow on a CPU). The last line printed is the exact
--data-root to give ``crbench train`` and ``crbench test``. The root gets a
CRBENCH_SYNTHETIC.json marker: every result computed on it is recorded as
synthetic and kept apart from real results on the leaderboard.
"""
import argparse
import sys

from rich.progress import Progress

PROG = 'crbench synthetic'


def main(argv=None, prog: str = PROG) -> int:
    from crbench.datasets.synthetic import DEFAULT_SIZE, WRITERS, write_synthetic
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', required=True, choices=sorted(WRITERS))
    parser.add_argument('--out', required=True, help='output folder (created)')
    parser.add_argument('--train', type=int, default=8, help='training samples')
    parser.add_argument('--test', type=int, default=4, help='test samples')
    parser.add_argument('--size', type=int, default=DEFAULT_SIZE,
                        help=f'image side on disk (default {DEFAULT_SIZE}, fit for a CPU; '
                        'the real data: 512 for CUHK-CR and RICE, 256 for the others)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.size < 8:
        parser.error(f'--size must be at least 8 pixels, got {args.size}')
    counts = {'train': args.train, 'test': args.test}
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f'writing synthetic {args.dataset}',
                                     total=sum(counts.values()))
            data_root = write_synthetic(args.dataset, args.out, counts, args.size, args.seed,
                                        lambda: progress.advance(task))
    except FileExistsError as err:
        print(f'{prog}: error: {err}', file=sys.stderr)
        return 2
    print(f'synthetic {args.dataset} ({args.size}×{args.size}) written; train on it with\n'
          f'  --data-root {data_root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
