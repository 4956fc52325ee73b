"""Packaging (metadata in setup.cfg): the repository's configs/ and the leaderboard's inputs
ship inside the package as ``crbench/configs`` and ``crbench/leaderboard_data``, so an
installed ``crbench`` finds them without a checkout (crbench/commands/_common.py)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=['crbench', 'crbench.*'])
    + ['crbench.configs', 'crbench.leaderboard_data'],
    package_dir={'crbench.configs': 'configs', 'crbench.leaderboard_data': 'leaderboard'},
    package_data={
        'crbench': ['datasets/splits/*.txt', 'leaderboard/static/*'],
        'crbench.configs': ['**/*.py', '**/*.yml', '**/*.md'],
        'crbench.leaderboard_data': ['reported.csv', 'reported_efficiency.csv', 'metafile.yml',
                                     'efficiency/*.json'],
    },
)
