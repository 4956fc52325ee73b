#!/usr/bin/env python
"""The crbench demo: synthetic CUHK-CR2 -> MemoryNet training and testing -> leaderboard.

Runs on CPU in a few minutes with no download. Everything is written under
work_dirs/demo/ (nothing in the repository's leaderboard/ changes):

1. a small synthetic CUHK-CR2 copy in the real download layout (flagged synthetic),
2. MemoryNet (the paper configuration, small images, few iterations) trained
   through MMEngine's Runner by tools/train.py,
3. tests of that checkpoint by tools/test.py: a results JSON marked synthetic,
   and cloudy | prediction | target comparison images,
4. a leaderboard regenerated from the papers' numbers plus this run, with the
   synthetic run in its own section, apart from the reported numbers.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

from rich.console import Console
from rich.panel import Panel

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/demo/memorynet_cuhkcr2_demo.py'
console = Console()


def step(title: str, cmd: list) -> None:
    console.rule(f'[bold cyan]{title}')
    console.print('[dim]$ ' + ' '.join(cmd))
    start = time.time()
    result = subprocess.run([sys.executable] + cmd, cwd=ROOT)
    if result.returncode != 0:
        console.print(f'[bold red]demo step failed: {title} (exit {result.returncode})')
        sys.exit(result.returncode)
    console.print(f'[green]done in {time.time() - start:.0f} s')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='work_dirs/demo', help='demo output folder')
    parser.add_argument('--iters', type=int, default=40, help='training iterations')
    args = parser.parse_args(argv)
    out = args.out
    data, train_dir = osp.join(out, 'data'), osp.join(out, 'train')
    results, images = osp.join(out, 'results'), osp.join(out, 'comparisons')
    board = osp.join(out, 'leaderboard')
    for folder in (data, train_dir, results, images, board, osp.join(out, 'test')):
        shutil.rmtree(osp.join(ROOT, folder), ignore_errors=True)
    data_root = osp.join(data, 'C-CUHK', 'CUHK-CR2')
    started = time.time()

    step('1/4 synthetic CUHK-CR2 (64×64 on disk -> 32×32 after the MATLAB resize)',
         ['tools/make_synthetic_data.py', '--dataset', 'cuhk_cr2', '--out', data,
          '--size', '64', '--train', '16', '--test', '4', '--seed', '0'])
    step(f'2/4 train MemoryNet for {args.iters} iterations (MMEngine Runner)',
         ['tools/train.py', CONFIG, '--work-dir', train_dir, '--data-root', data_root,
          '--cfg-options', f'train_cfg.max_iters={args.iters}',
          f'train_cfg.val_interval={args.iters}',
          f'default_hooks.checkpoint.interval={args.iters}'])
    checkpoint = osp.join(train_dir, f'iter_{args.iters}.pth')
    step('3/4 test the checkpoint and record the result',
         ['tools/test.py', CONFIG, checkpoint, '--work-dir', osp.join(out, 'test'),
          '--data-root', data_root, '--results-dir', results, '--save-images', images])
    step('4/4 regenerate the leaderboard (reported numbers + this synthetic run)',
         ['tools/leaderboard.py', '--results-dir', results, '--out-dir', board,
          '--show-synthetic'])

    console.print(Panel.fit(
        f'Demo finished in {time.time() - started:.0f} s.\n'
        f'Leaderboard:        {osp.join(board, "README.md")}  (and index.html)\n'
        f'Comparison images:  {images}/  (cloudy | prediction | target)\n'
        f'Result JSON:        {results}/  (synthetic: true)\n'
        f'Training logs:      {train_dir}/\n'
        'The synthetic run is listed apart from the papers\' numbers; it says nothing '
        'about real imagery.', title='crbench demo', border_style='green'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
