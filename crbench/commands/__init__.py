"""Package code of every ``crbench`` sub-command.

Each sub-command is a module ``crbench/commands/<name>.py`` with
``main(argv=None, prog=...) -> int``; ``tools/<script>.py`` and the ``crbench``
command both call it, so the two ways stay equal. A new sub-command is one
entry in :data:`COMMANDS`.
"""
from typing import NamedTuple


class Command(NamedTuple):
    module: str       # importable module with ``main(argv, prog)``
    summary: str      # one line for ``crbench --help``


#: ``crbench <name>`` -> the module that runs it. One entry per command.
COMMANDS = {
    'train': Command('crbench.commands.train', 'train a config with the MMEngine Runner'),
    'test': Command('crbench.commands.test',
                    'test a checkpoint and write a result JSON for the leaderboard'),
    'leaderboard': Command('crbench.commands.leaderboard',
                           'regenerate the leaderboard (Markdown, CSV, HTML, plots)'),
    'check-data': Command('crbench.commands.check_data',
                          'check a dataset copy against what a config reads (read-only)'),
    'synthetic': Command('crbench.commands.synthetic',
                         'write a small synthetic dataset in a real dataset\'s layout'),
    'benchmark': Command('crbench.commands.benchmark',
                         'measure parameters, MACs, latency and memory of configs'),
    'demo': Command('crbench.commands.demo',
                    'synthetic data -> train -> test -> leaderboard, in a few minutes on CPU'),
    'zoo': Command('crbench.commands.zoo',
                   'list the model index: configs, papers, official weights, results'),
    'compare': Command('crbench.evaluation.compare',
                       'compare two test runs image by image: paired CI, Wilcoxon, win rate'),
    'profile': Command('crbench.analysis.pipeline',
                       'time each stage of a test run (data, forward, metrics, writing)'),
}
