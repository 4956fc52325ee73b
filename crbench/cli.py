"""The ``crbench`` command: ``crbench train|test|leaderboard|check-data|synthetic ...``.

Each sub-command runs the matching script in ``tools/`` with the remaining
arguments, so ``crbench train CONFIG`` is ``python tools/train.py CONFIG``.
"""
import os.path as osp
import runpy
import sys

COMMANDS = {
    'train': 'train.py',
    'test': 'test.py',
    'leaderboard': 'leaderboard.py',
    'check-data': 'check_dataset.py',
    'synthetic': 'make_synthetic_data.py',
    'benchmark': 'benchmark.py',
    'demo': 'demo.py',
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help') or argv[0] not in COMMANDS:
        names = ', '.join(COMMANDS)
        print(f'usage: crbench <command> [args]\ncommands: {names}', file=sys.stderr)
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    tools_dir = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')
    script = osp.join(tools_dir, COMMANDS[argv[0]])
    if not osp.isfile(script):
        print(f'crbench {argv[0]}: {script} is not available in this installation',
              file=sys.stderr)
        return 2
    sys.argv = [script] + argv[1:]
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0
