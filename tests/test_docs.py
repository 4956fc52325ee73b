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
SKIP_DIRS = {'.git', '.venv', 'work_dirs', '__pycache__', 'node_modules', 'data', 'results'}
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


def _walk(top: str, suffixes) -> Iterator[str]:
    for folder, dirs, files in os.walk(osp.join(REPO, top)):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith('.'))
        for name in sorted(files):
            if name.endswith(suffixes):
                yield osp.join(folder, name)


def doc_files() -> List[str]:
    """docs/*.md and every README.md of the repository."""
    files = list(_walk('docs', ('.md', )))
    for folder, dirs, names in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith('.'))
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
