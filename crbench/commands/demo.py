"""``crbench demo``: synthetic CUHK-CR2 -> MemoryNet training and testing -> leaderboard.

Runs on CPU in a few minutes with no download. Everything is written under
work_dirs/demo/ (nothing in the repository's leaderboard/ changes):

1. a small synthetic CUHK-CR2 copy in the real download layout (flagged synthetic),
2. MemoryNet (the paper configuration, small images, few iterations) trained
   through MMEngine's Runner by ``crbench train``,
3. tests of that checkpoint by ``crbench test``: a results JSON marked synthetic,
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

PROG = 'crbench demo'
CONFIG = 'configs/demo/memorynet_cuhkcr2_demo.py'


def step(console, title: str, command: list) -> None:
    """Run ``crbench <command>`` in a fresh process (each step owns its MMEngine state)."""
    console.rule(f'[bold cyan]{title}')
    console.print('[dim]$ crbench ' + ' '.join(command))
    start = time.time()
    # the crbench that runs this demo, also when another one is installed
    package_parent = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (package_parent, os.environ.get('PYTHONPATH')) if p))
    result = subprocess.run([sys.executable, '-m', 'crbench'] + command, env=env)
    if result.returncode != 0:
        console.print(f'[bold red]demo step failed: {title} (exit {result.returncode})')
        sys.exit(result.returncode)
    console.print(f'[green]done in {time.time() - start:.0f} s')


def main(argv=None, prog: str = PROG) -> int:
    from rich.console import Console
    from rich.panel import Panel
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='work_dirs/demo', help='demo output folder')
    parser.add_argument('--iters', type=int, default=40, help='training iterations')
    args = parser.parse_args(argv)
    console = Console()
    out = args.out
    data, train_dir = osp.join(out, 'data'), osp.join(out, 'train')
    results, images = osp.join(out, 'results'), osp.join(out, 'comparisons')
    board = osp.join(out, 'leaderboard')
    for folder in (data, train_dir, results, images, board, osp.join(out, 'test')):
        shutil.rmtree(folder, ignore_errors=True)
    data_root = osp.join(data, 'C-CUHK', 'CUHK-CR2')
    started = time.time()
    step(console, '1/4 synthetic CUHK-CR2 (64×64 on disk -> 32×32 after the MATLAB resize)',
         ['synthetic', '--dataset', 'cuhk_cr2', '--out', data, '--size', '64', '--train', '16',
          '--test', '4', '--seed', '0'])
    step(console, f'2/4 train MemoryNet for {args.iters} iterations (MMEngine Runner)',
         ['train', CONFIG, '--work-dir', train_dir, '--data-root', data_root,
          '--cfg-options', f'train_cfg.max_iters={args.iters}',
          f'train_cfg.val_interval={args.iters}',
          f'default_hooks.checkpoint.interval={args.iters}'])
    checkpoint = osp.join(train_dir, f'iter_{args.iters}.pth')
    step(console, '3/4 test the checkpoint and record the result',
         ['test', CONFIG, checkpoint, '--work-dir', osp.join(out, 'test'),
          '--data-root', data_root, '--results-dir', results, '--save-images', images])
    step(console, '4/4 regenerate the leaderboard (reported numbers + this synthetic run)',
         ['leaderboard', '--results-dir', results, '--out-dir', board, '--show-synthetic'])
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
