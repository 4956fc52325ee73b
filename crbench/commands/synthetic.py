"""``crbench synthetic``: write a small synthetic dataset in a real dataset's on-disk layout.

    crbench synthetic --dataset cuhk_cr2 --out data/synthetic

The root gets a CRBENCH_SYNTHETIC.json marker: every result computed on it is
recorded as synthetic and kept apart from real results on the leaderboard.
"""
import argparse
import os.path as osp
import sys

from rich.progress import Progress

PROG = 'crbench synthetic'


#: Where a config's data_root points inside what a writer returns (CUHK: C-CUHK/CUHK-CR<n>).
DATA_ROOT_SUBFOLDER = {'cuhk_cr1': 'CUHK-CR1', 'cuhk_cr2': 'CUHK-CR2'}


def writers():
    from crbench.datasets import synthetic
    table = {
        'cuhk_cr1': lambda out, counts, size, seed, tick: synthetic.write_cuhk(
            out, 'CUHK-CR1', counts, size, seed, tick),
        'cuhk_cr2': lambda out, counts, size, seed, tick: synthetic.write_cuhk(
            out, 'CUHK-CR2', counts, size, seed, tick),
    }
    table.update(getattr(synthetic, 'EXTRA_WRITERS', {}))
    return table


def main(argv=None, prog: str = PROG) -> int:
    table = writers()
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', required=True, choices=sorted(table))
    parser.add_argument('--out', required=True, help='output folder (created)')
    parser.add_argument('--train', type=int, default=8, help='training samples')
    parser.add_argument('--test', type=int, default=4, help='test samples')
    parser.add_argument('--size', type=int, default=None,
                        help='image size on disk (default: the real size of the dataset)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    counts = {'train': args.train, 'test': args.test}
    with Progress(transient=True) as progress:
        task = progress.add_task(f'writing synthetic {args.dataset}', total=sum(counts.values()))
        root = table[args.dataset](args.out, counts, args.size, args.seed,
                                   lambda: progress.advance(task))
    print(f'synthetic {args.dataset} written to {root}')
    data_root = osp.join(root, DATA_ROOT_SUBFOLDER[args.dataset]) \
        if args.dataset in DATA_ROOT_SUBFOLDER else root
    print(f'train on it with --data-root {data_root}')
    if args.size is None:
        print('images have the real size of the dataset (slow on CPU); --size 64 writes small '
              'ones for quick pipeline checks')
    return 0


if __name__ == '__main__':
    sys.exit(main())
