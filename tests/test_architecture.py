"""Import direction between crbench's packages (docs/architecture.md, "Who may import whom").

Imports are read with ``ast`` from every module of ``crbench/`` (module level and inside
functions alike), so a lazy import counts as much as a top-level one.
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = osp.join(REPO, 'crbench')

# Frameworks own losses, train_step and sampling; everything under models/ that is not a
# network, a loss or a diffusion process is one.
NETWORKS = ('crbench.models.reference', 'crbench.models.diffusion.networks')
FRAMEWORKS = ('crbench.models.restorers', 'crbench.models.diffusion.de',
              'crbench.models.diffusion.emrdm')
RUNTIME = ('crbench.engine', 'crbench.apis', 'crbench.inference', 'crbench.analysis',
           'crbench.leaderboard', 'crbench.results', 'crbench.cli', 'crbench.commands')
FOUNDATION = ('crbench.registry', 'crbench.version', 'crbench.structures')


def module_name(path: str) -> str:
    rel = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def imports_of(path: str) -> List[Tuple[int, str, List[str]]]:
    """``(line, imported module, imported names)`` of every import in ``path``;
    relative imports resolved, names empty for ``import x``."""
    name = module_name(path)
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = parts[:len(parts) - (node.level - 1)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            names = [alias.name for alias in node.names]
            found.append((node.lineno, target, names))
            # `from . import x` / `from pkg import submodule`: the submodules count too
            found += [(node.lineno, f'{target}.{n}', []) for n in names]
    return found


def crbench_modules() -> Dict[str, str]:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith('.py'):
                path = osp.join(folder, file)
                out[module_name(path)] = path
    return out


MODULES = crbench_modules()


def within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + '.') for p in prefixes)


def violations(importers, forbidden, allowed=()) -> List[str]:
    """``file:line importer -> target`` for imports of ``forbidden`` by ``importers``."""
    found = []
    for module, path in sorted(MODULES.items()):
        if not within(module, importers):
            continue
        for line, target, _ in imports_of(path):
            if within(target, forbidden) and not within(target, allowed):
                found.append(f'{osp.relpath(path, REPO)}:{line} {module} -> {target}')
    return sorted(set(found))


def test_import_parser_sees_every_form(tmp_path, monkeypatch):
    pkg = tmp_path / 'crbench' / 'models' / 'reference'
    pkg.mkdir(parents=True)
    path = pkg / 'example.py'
    path.write_text('import crbench.samplers.ddim\n'
                    'from ..restorers.base import BaseRestorer\n'
                    'def f():\n'
                    '    from crbench.models.diffusion import de\n')
    monkeypatch.setattr(f'{__name__}.REPO', str(tmp_path))
    targets = {t for _, t, _ in imports_of(str(path))}
    assert {'crbench.samplers.ddim', 'crbench.models.restorers.base',
            'crbench.models.diffusion.de'} <= targets


def test_networks_import_no_framework():
    """Networks are plain nn.Modules: no framework, sampler, dataset or runtime import."""
    assert MODULES.keys() & {'crbench.models.reference.memorynet',
                             'crbench.models.diffusion.networks.hdit'}
    assert violations(NETWORKS, FRAMEWORKS + RUNTIME
                      + ('crbench.samplers', 'crbench.datasets', 'crbench.evaluation')) == []


def test_samplers_import_no_framework_or_dataset():
    """Samplers own only the reverse-time loop: they see a denoiser and a process."""
    assert violations(('crbench.samplers',), FRAMEWORKS + RUNTIME + NETWORKS
                      + ('crbench.datasets', 'crbench.evaluation')) == []


def test_datasets_import_no_model():
    assert violations(('crbench.datasets',), ('crbench.models', 'crbench.samplers',
                                              'crbench.evaluation') + RUNTIME) == []


def test_foundation_imports_nothing_above_it():
    assert violations(FOUNDATION, tuple(m for m in MODULES if not within(m, FOUNDATION))) == []


def test_frameworks_take_no_names_from_samplers():
    """Frameworks reach samplers through the DIFFUSION_SAMPLERS registry; a plain
    ``import crbench.samplers.x`` (registration) is allowed, ``from ... import name`` not."""
    found = []
    for module, path in sorted(MODULES.items()):
        if within(module, FRAMEWORKS):
            found += [f'{osp.relpath(path, REPO)}:{line} {module} -> {target}: {names}'
                      for line, target, names in imports_of(path)
                      if within(target, ('crbench.samplers',)) and names]
    # `from crbench.samplers.x import name` also lists crbench.samplers.x.name: keep names
    assert [f for f in found if not f.endswith(': []')] == []
