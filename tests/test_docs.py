"""Every link and cited path in the shipped documentation exists.

Checked: relative Markdown links in docs/ and every README.md; repository paths
(``crbench/...``, ``configs/...``, ``tools/...``, ``docs/...``, ``tests/...``) cited
in those files and in the sources (docstrings, comments) under crbench/, configs/
and tools/; and ``docs/<page>.md §N.M`` section citations, whose numbers must be
headings of that page. Nothing shipped may point outside the repository.
"""
import os
import os.path as osp
import re
from typing import Iterator, List, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SOURCE_DIRS = ('crbench', 'configs', 'tools')
SKIP_DIRS = {'.git', '.venv', 'work_dirs', '__pycache__', 'node_modules'}
# Folders of data and generated output (not documentation), relative to the repository.
SKIP_PATHS = {osp.join(REPO, p) for p in ('data', 'work_dirs', osp.join('leaderboard', 'results'))}
TEXT_SUFFIXES = ('.py', '.md', '.sh', '.yml', '.yaml', '.txt', '.cfg', '.toml', '.html',
                 '.css', '.js')

# A repository path: a top folder, then path characters; must not be part of a longer path
# (``work_dirs/configs/x``) or a dotted module name.
PATH_RE = re.compile(r'(?<![\w./-])((?:crbench|configs|tools|docs|tests)/[\w./-]*[\w/])')
LINK_RE = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
CITATION_RE = re.compile(r'docs/([\w-]+\.md)')
SECTION_RE = re.compile(r'§(\d+(?:\.\d+)*)')
# Between two section numbers of one citation: ", ", " and ", " / ", " step 2, ".
SEPARATOR_RE = re.compile(r'(?:\.?\s*(?:,|and|or|/)\s*|\s+step\s+\d+\s*,?\s*|\s*,?\s*)(?=§)')
HEADING_RE = re.compile(r'^#{1,6}\s+(?:§\s*)?(\d+(?:\.\d+)*)\.?\s')
PLACEHOLDER = re.compile(r'[<>{}*$\[\]]|\.\.\.|…')


def _keep(folder: str, name: str) -> bool:
    return (name not in SKIP_DIRS and not name.startswith('.')
            and osp.join(folder, name) not in SKIP_PATHS)


def _walk(top: str, suffixes) -> Iterator[str]:
    for folder, dirs, files in os.walk(osp.join(REPO, top)):
        dirs[:] = sorted(d for d in dirs if _keep(folder, d))
        for name in sorted(files):
            if name.endswith(suffixes):
                yield osp.join(folder, name)


def doc_files() -> List[str]:
    """docs/*.md and every README.md of the repository."""
    files = list(_walk('docs', ('.md', )))
    for folder, dirs, names in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if _keep(folder, d))
        files += [osp.join(folder, n) for n in names if n == 'README.md']
    return sorted(set(files))


def source_files() -> List[str]:
    return [f for top in SOURCE_DIRS for f in _walk(top, TEXT_SUFFIXES)]


def _lines(path: str) -> Iterator[Tuple[int, str]]:
    with open(path, encoding='utf-8', errors='replace') as f:
        yield from enumerate(f, start=1)


def _rel(path: str) -> str:
    return osp.relpath(path, REPO)


def _exists(repo_path: str) -> bool:
    return osp.exists(osp.join(REPO, repo_path.rstrip('/')))


def cited_paths(path: str) -> Iterator[Tuple[int, str]]:
    for lineno, line in _lines(path):
        for match in PATH_RE.finditer(line):
            cited = match.group(1).rstrip('.')
            rest = line[match.end():match.end() + 1]
            last = cited.rstrip('/').rsplit('/', 1)[-1]
            if PLACEHOLDER.search(cited) or (rest and rest in '<{*') or last.isupper():
                continue  # a pattern (configs/<model>/, tools/*.py, tools/TOOL), not a path
            yield lineno, cited


def section_citations(path: str) -> Iterator[Tuple[int, str, str]]:
    """(line, page, section) for each ``docs/<page>.md §N.M`` (also ``§A, §B and §C``)."""
    for lineno, line in _lines(path):
        for match in CITATION_RE.finditer(line):
            rest = line[match.end():]
            rest = rest[len(rest) - len(rest.lstrip('`\'" ')):]  # backticks between the page and §
            while rest.startswith('§'):
                number = SECTION_RE.match(rest)
                yield lineno, match.group(1), number.group(1)
                rest = rest[number.end():]
                separator = SEPARATOR_RE.match(rest)
                if not separator:
                    break
                rest = rest[separator.end():]


def headings(page: str) -> set:
    path = osp.join(REPO, 'docs', page)
    found = set()
    for _, line in _lines(path):
        match = HEADING_RE.match(line)
        if match:
            found.add(match.group(1))
    return found


def markdown_links(path: str) -> Iterator[Tuple[int, str]]:
    in_code = False
    for lineno, line in _lines(path):
        if line.lstrip().startswith('```'):
            in_code = not in_code
        if in_code:
            continue
        for match in LINK_RE.finditer(line):
            target = match.group(1)
            if re.match(r'^[a-z][\w+.-]*:', target) or target.startswith('#'):
                continue  # http:, https:, mailto:, in-page anchors
            yield lineno, target.split('#')[0]


def _report(broken: List[str], what: str) -> str:
    return f'{len(broken)} {what}:\n' + '\n'.join(broken)


def test_relative_links_exist():
    broken = []
    for path in doc_files():
        for lineno, target in markdown_links(path):
            resolved = osp.normpath(osp.join(osp.dirname(path), target))
            if not osp.exists(resolved):
                broken.append(f'{_rel(path)}:{lineno}: link to {target!r} ({_rel(resolved)})')
    assert not broken, _report(broken, 'broken relative links')


def test_cited_repository_paths_exist():
    broken = []
    for path in sorted(set(doc_files() + source_files())):
        for lineno, cited in cited_paths(path):
            if not _exists(cited):
                broken.append(f'{_rel(path)}:{lineno}: {cited}')
    assert not broken, _report(broken, 'cited paths that do not exist')


def test_cited_sections_exist():
    broken, pages = [], {}
    for path in sorted(set(doc_files() + source_files() + list(_walk("tests", (".py", ))))):
        for lineno, page, section in section_citations(path):
            if page not in pages:
                pages[page] = headings(page) if _exists(f'docs/{page}') else None
            if pages[page] is None:
                broken.append(f'{_rel(path)}:{lineno}: docs/{page} does not exist')
            elif section not in pages[page]:
                broken.append(f'{_rel(path)}:{lineno}: docs/{page} has no section §{section}')
    assert not broken, _report(broken, 'section citations that do not resolve')


def test_nothing_points_outside_the_repository():
    offending = []
    candidates = source_files() + list(_walk('docs', TEXT_SUFFIXES)) + [osp.join(REPO,
                                                                                'README.md')]
    for path in candidates:
        for lineno, line in _lines(path):
            if 'shared/' in line:
                offending.append(f'{_rel(path)}:{lineno}: {line.strip()[:100]}')
    assert not offending, _report(offending, 'lines citing files outside the repository')


@pytest.mark.parametrize('text, expected', [
    ('see docs/datasets.md §2.8 step 2, §4.8 and §5.7.', ['2.8', '4.8', '5.7']),
    ('(`docs/models.md` §1.4, §1.5)', ['1.4', '1.5']),
    ('docs/datasets.md §2.8 / §3.7', ['2.8', '3.7']),
    ('docs/models.md §2.', ['2']),
    ('docs/metrics.md explains', []),
])
def test_citation_parser(tmp_path, text, expected):
    """The parser finds every section of a citation (so a broken one cannot hide)."""
    source = tmp_path / 'x.py'
    source.write_text(f'# {text}\n')
    assert [s for _, _, s in section_citations(str(source))] == expected


def test_checks_can_fail(tmp_path):
    source = tmp_path / 'x.md'
    source.write_text('See `crbench/no_such_module.py` and [a](no_such.md).\n')
    assert [c for _, c in cited_paths(str(source))] == ['crbench/no_such_module.py']
    assert not _exists('crbench/no_such_module.py')
    assert [t for _, t in markdown_links(str(source))] == ['no_such.md']


# ------------------------------------------------------------------ the documented plugin
PLUGIN = osp.join(REPO, 'tests', 'data', 'plugin_example')
PLUGIN_CONFIG = osp.join(PLUGIN, 'configs', 'residual_conv_cuhkcr2.py')


def _plugin_env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', **extra)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (PLUGIN, env.get('PYTHONPATH')) if p)
    return env


def test_plugin_config_resolves_from_any_folder(tmp_path, monkeypatch):
    """docs/adding_a_model.md: the plugin config's _base_ paths work outside the repository,
    through the default (relative to the config file) and through CRBENCH_CONFIGS."""
    from mmengine.config import Config
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('CRBENCH_CONFIGS', raising=False)
    import sys
    monkeypatch.syspath_prepend(PLUGIN)
    cfg = Config.fromfile(PLUGIN_CONFIG)
    assert cfg.dataset_name == 'CUHK-CR2' and cfg.default_scope == 'crbench'
    assert cfg.model.generator.type == 'ResidualConvNet' and 'my_cr_plugin' in sys.modules
    copy = tmp_path / 'elsewhere' / 'my_config.py'  # a user's copy, far from crbench
    copy.parent.mkdir()
    copy.write_text(open(PLUGIN_CONFIG).read())
    monkeypatch.setenv('CRBENCH_CONFIGS', osp.join(REPO, 'configs'))
    assert Config.fromfile(str(copy)).train_cfg.type == 'IterBasedTrainLoop'
    monkeypatch.delenv('CRBENCH_CONFIGS')
    with pytest.raises(FileNotFoundError):
        Config.fromfile(str(copy))  # the relative default does not reach crbench from there


@pytest.mark.slow
def test_plugin_trains_tests_and_restores_from_outside(tmp_path):
    """The documented plugin trains, tests and restores, run from a folder outside crbench."""
    import glob
    import json
    import subprocess
    import sys

    from crbench.datasets.synthetic import write_cuhk
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 1}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    loaders = [f'{k}.{a}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
               for a in ('num_workers=0', 'persistent_workers=False')]
    work = str(tmp_path / 'work')
    train = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), PLUGIN_CONFIG, '--work-dir', work,
         '--data-root', data_root, '--cfg-options', 'train_cfg.max_iters=2',
         'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2', *loaders],
        cwd=str(tmp_path), env=_plugin_env(), capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = osp.join(work, 'iter_2.pth')
    results = str(tmp_path / 'results')
    test = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), PLUGIN_CONFIG, checkpoint,
         '--work-dir', str(tmp_path / 'test'), '--data-root', data_root, '--results-dir',
         results, '--cfg-options', *loaders],
        cwd=str(tmp_path), env=_plugin_env(), capture_output=True, text=True, timeout=600)
    assert test.returncode == 0, test.stderr[-3000:]
    (record_file, ) = glob.glob(osp.join(results, '*.json'))
    record = json.load(open(record_file))
    assert record['model'] == 'residual_conv' and record['synthetic'] is True
    restore = subprocess.run(
        [sys.executable, '-c', 'import sys; from crbench.apis import init_model, restore; '
         'm = init_model(sys.argv[1], sys.argv[2]); '
         'print(sorted((k, v.shape) for k, v in restore(m, sys.argv[3]).items()))',
         PLUGIN_CONFIG, checkpoint, data_root],
        cwd=str(tmp_path), env=_plugin_env(PYTHONPATH=f'{PLUGIN}{os.pathsep}{REPO}'),
        capture_output=True, text=True, timeout=600)
    assert restore.returncode == 0, restore.stderr[-3000:]
    assert "(16, 16, 4)" in restore.stdout
