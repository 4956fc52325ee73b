"""The ``crbench`` command: ``crbench <command> [args]``.

Every sub-command is package code (``crbench/commands/<name>.py``, listed in
:data:`crbench.commands.COMMANDS`), so the command works the same from an
installed wheel and from a checkout; ``tools/*.py`` are thin wrappers over the
same modules.
"""
import importlib
import sys

from crbench.commands import COMMANDS


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ['usage: crbench <command> [args]', '',
             'Benchmarking toolkit for cloud removal (MMEngine).', '', 'commands:']
    lines += [f'  {name:<{width}}  {cmd.summary}' for name, cmd in COMMANDS.items()]
    lines += ['', 'Run `crbench <command> --help` for the options of a command.']
    return '\n'.join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ('-V', '--version'):
        from crbench.version import __version__
        print(f'crbench {__version__}')
        return 0
    name = argv[0]
    if name not in COMMANDS:
        import difflib
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f' Did you mean {close[0]!r}?' if close else ''
        print(f'{usage()}\n\ncrbench: error: unknown command {name!r}.{hint}', file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name].module)
    try:
        return module.main(argv[1:], prog=f'crbench {name}') or 0
    except SystemExit as exit_:  # argparse errors (2) and --help (0)
        return exit_.code if isinstance(exit_.code, int) else 1
