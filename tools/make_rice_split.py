#!/usr/bin/env python
"""Write the documented 8:2 RICE split lists (``crbench/datasets/rice.py`` describes the rule).

The rule: natural-sorted ids; n_test = floor(0.2 n + 0.5); the ids of the DE /
collection figures go to test first; the other test places are filled in the
order of ``numpy.random.default_rng(seed).permutation(n)``; the rest is train.

The shipped RICE1 lists were written with (the published ids are 0…499)::

    python tools/make_rice_split.py --version 1 --ids 0-499

To freeze the split of your own copy (for example RICE2, whose id range is not
published), point it at the download; the folder is only read::

    python tools/make_rice_split.py --version 2 --root /data/RICE_DATASET --out my_splits
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from crbench.datasets.base import natural_key  # noqa: E402
from crbench.datasets.rice import (FIGURE_IDS, RICE_SPLIT_SEED, SPLIT_DIR,  # noqa: E402
                                   make_rice_split, resolve_rice_root, scan_rice_pairs)


def parse_ids(text):
    ids = []
    for part in text.split(','):
        if '-' in part:
            lo, hi = part.split('-')
            ids.extend(str(i) for i in range(int(lo), int(hi) + 1))
        elif part:
            ids.append(part)
    return ids


def ids_on_disk(root, version):
    folder = resolve_rice_root(root, version)
    if folder is None:
        sys.exit(f'error: no RICE{version}/cloud folder under {root!r}; give the RICE_DATASET '
                 'folder as extracted from RICE_DATASET.zip')
    for sub in ('cloud', 'label'):
        if not osp.isdir(osp.join(folder, sub)):
            sys.exit(f'error: {osp.join(folder, sub)!r} is missing')
    cloud, label, _ = scan_rice_pairs(folder)  # the dataset's own scan
    return sorted(set(cloud) & set(label), key=natural_key)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', type=int, choices=(1, 2), required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--root', help='RICE_DATASET folder: use the ids found there')
    source.add_argument('--ids', help="ids as ranges/values, e.g. '0-499' or '1-450,452'")
    parser.add_argument('--seed', type=int, default=RICE_SPLIT_SEED)
    parser.add_argument('--out', required=True, help='folder for rice<v>_{train,test}.txt')
    parser.add_argument('--overwrite-shipped', action='store_true',
                        help=f'allow --out {SPLIT_DIR} (the split every user reads; maintainers only)')
    args = parser.parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(SPLIT_DIR) and not args.overwrite_shipped:
        sys.exit(f'error: {SPLIT_DIR} holds the shipped splits every user reads; write elsewhere '
                 'and pass split_file=... in your config, or add --overwrite-shipped')

    ids = ids_on_disk(args.root, args.version) if args.root else parse_ids(args.ids)
    if not ids:
        sys.exit('error: no ids')
    split = make_rice_split(ids, args.seed, force_test=FIGURE_IDS[args.version])
    os.makedirs(args.out, exist_ok=True)
    for name, members in split.items():
        path = osp.join(args.out, f'rice{args.version}_{name}.txt')
        with open(path, 'w') as f:
            f.write(''.join(f'{i}\n' for i in members))
        print(f'{path}: {len(members)} ids')
    forced = [i for i in FIGURE_IDS[args.version] if i in set(ids)]
    print(f'figure ids kept in test: {forced}')


if __name__ == '__main__':
    main()
