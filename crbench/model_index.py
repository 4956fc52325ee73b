"""The model index: every model's configs, papers, reported numbers and official weights.

It is read from ``metafile.yml`` files (the OpenMMLab model-index layout, extended):
crbench's own ``configs/<model>/metafile.yml``, a ``metafile.yml`` next to a
``reported.csv`` (methods the papers compare against that crbench does not
implement), and those of plugin packages (a ``metafile.yml`` in the package
of a module listed in a config's ``custom_imports``, or named by an entry point
in the group ``crbench.metafiles``). Schema::

    Collections:                  # one per method; its Name is the display name
    - Name: SpA-GAN
      Key: spagan                 # `model` in result JSONs and reported.csv
      Order: 10                   # leaderboard order (smaller first)
      Paper: {Title: ..., URL: ..., Venue: ...}
      Code: {URL: <official repository>, Implementation: <code crbench follows>}
      README: configs/spagan/README.md
      Efficiency Key: <key>       # optional: whose reported Params/MACs stand for this one
    Models:                       # one per config
    - Name: spagan_rice1
      In Collection: SpA-GAN
      Config: configs/spagan/spagan_rice1.py
      Metadata: {Training Data: RICE1, ...}
      Results:                    # numbers printed in papers (as in reported.csv)
      - {Dataset: RICE1, Protocol: cuhk_official, Paper: ..., Table: ..., Metrics: {PSNR: ..}}
      Weights:                    # official checkpoints ([] when none is published)
      - URL: <as published>
        SHA256: <of the file>
        Source Format: <what the converter detects>
        Converter: <command>
        Input: {Band Order: BGR, Range: '[0, 1]', Resolution: 512}
        Converted Results: []     # crbench test results of the converted file

``crbench zoo`` lists and filters the index and writes the README's model-zoo table.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Iterable, List, Optional

#: Entry-point group through which an installed plugin names its metafiles.
ENTRY_POINT_GROUP = 'crbench.metafiles'

README_START = '<!-- model-zoo:start -->'
README_END = '<!-- model-zoo:end -->'


#: Keys every official-weights entry has (``SHA256``/``Converter`` null = not known yet:
#: the file sits behind a download page or no converter reads it so far).
WEIGHT_KEYS = ('URL', 'SHA256', 'Source Format', 'Converter', 'Input', 'Converted Results')


class ModelIndexError(ValueError):
    """A metafile does not follow the schema; the message names the file."""


@dataclass
class Collection:
    """One method: display name, key, order, paper, official code."""
    name: str
    key: str
    order: float
    paper: dict = field(default_factory=dict)
    code: dict = field(default_factory=dict)
    readme: str = ''
    metafile: str = ''
    models: list = field(default_factory=list)
    efficiency_key: str = ''       # another collection whose cost figures stand for this one

    @property
    def implemented(self) -> bool:
        """crbench (or the plugin) has a config for it."""
        return any(m.config for m in self.models)


@dataclass
class ModelEntry:
    """One config of a method."""
    name: str
    collection: str                # display name of its collection
    config: str
    metadata: dict = field(default_factory=dict)
    results: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    metafile: str = ''
    key: str = ''                  # key of its collection

    @property
    def datasets(self) -> List[str]:
        data = self.metadata.get('Training Data')
        return [data] if isinstance(data, str) else list(data or [])


@dataclass
class ModelIndex:
    collections: dict = field(default_factory=dict)   # key -> Collection
    metafiles: list = field(default_factory=list)

    # -- lookups ----------------------------------------------------------
    def get(self, key: str) -> Optional[Collection]:
        return self.collections.get(key)

    def display(self, key: str, fallback: Optional[str] = None) -> str:
        c = self.collections.get(key)
        return c.name if c else (fallback or key)

    def rank(self, key: str) -> tuple:
        c = self.collections.get(key)
        return (0, c.order, '') if c else (1, 0, key)

    def ordered(self) -> List[Collection]:
        return sorted(self.collections.values(), key=lambda c: (c.order, c.key))

    def models(self) -> List[ModelEntry]:
        return [m for c in self.ordered() for m in c.models]

    def filter(self, query: str = '', dataset: str = '', weights: bool = False
               ) -> List[ModelEntry]:
        """Models whose name, collection or config contains ``query`` (case-insensitive),
        trained on ``dataset``, and (``weights``) with official weights."""
        q = query.lower()
        out = []
        for c in self.ordered():
            for m in c.models:
                text = ' '.join((m.name, c.name, c.key, m.config)).lower()
                if q and q not in text:
                    continue
                if dataset and dataset.lower() not in [d.lower() for d in m.datasets]:
                    continue
                if weights and not m.weights:
                    continue
                out.append(m)
        return out

    # -- building ----------------------------------------------------------
    def add_metafile(self, path: str) -> None:
        path = osp.abspath(path)
        if path in self.metafiles:
            return
        for collection in parse_metafile(path):
            if collection.key in self.collections:
                other = self.collections[collection.key]
                raise ModelIndexError(
                    f'{path}: collection key {collection.key!r} is already defined in '
                    f'{other.metafile}; a key names one method')
            self.collections[collection.key] = collection
        self.metafiles.append(path)


def _need(entry: dict, key: str, path: str, what: str):
    if key not in entry or entry[key] in (None, ''):
        raise ModelIndexError(f'{path}: {what} has no {key!r} (see crbench/model_index.py)')
    return entry[key]


def parse_metafile(path: str) -> List[Collection]:
    """The collections of one metafile, with their models."""
    import yaml
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ModelIndexError(f'{path}: cannot read the metafile ({err})') from err
    if not isinstance(data, dict):
        raise ModelIndexError(f'{path}: top level must be a mapping with Collections/Models')
    collections = {}
    for i, c in enumerate(data.get('Collections') or []):
        name = _need(c, 'Name', path, f'Collections[{i}]')
        key = _need(c, 'Key', path, f'collection {name!r}')
        order = c.get('Order', 1000)
        if not isinstance(order, (int, float)):
            raise ModelIndexError(f'{path}: collection {name!r} has a non-numeric Order')
        collections[name] = Collection(
            name=name, key=str(key), order=order, paper=c.get('Paper') or {},
            code=c.get('Code') or {}, readme=c.get('README') or '', metafile=path,
            efficiency_key=str(c.get('Efficiency Key') or ''))
    for i, m in enumerate(data.get('Models') or []):
        name = _need(m, 'Name', path, f'Models[{i}]')
        parent = _need(m, 'In Collection', path, f'model {name!r}')
        if parent not in collections:
            raise ModelIndexError(f'{path}: model {name!r} is in collection {parent!r}, which '
                                  f'this file does not define (defined: {sorted(collections)})')
        weights = m.get('Weights') or []
        if not isinstance(weights, list):
            raise ModelIndexError(f'{path}: Weights of {name!r} must be a list')
        for w in weights:
            _need(w, 'URL', path, f'a Weights entry of {name!r}')
            missing = [k for k in WEIGHT_KEYS if k not in w]
            if missing:
                raise ModelIndexError(f'{path}: a Weights entry of {name!r} lacks {missing} '
                                      '(null when not known yet)')
        collections[parent].models.append(ModelEntry(
            name=name, collection=parent, config=m.get('Config') or '',
            metadata=m.get('Metadata') or {}, results=m.get('Results') or [],
            weights=weights, metafile=path, key=collections[parent].key))
    return list(collections.values())


def crbench_metafiles() -> List[str]:
    """``metafile.yml`` of every model folder under the config roots."""
    from crbench.commands._common import config_roots
    found = {}
    for root in config_roots():
        for path in sorted(glob.glob(osp.join(root, '*', 'metafile.yml'))):
            found.setdefault(osp.basename(osp.dirname(path)), path)
    return list(found.values())


def module_metafiles(module_names: Iterable[str]) -> List[str]:
    """``metafile.yml`` next to each imported module or in one of its parent packages."""
    import importlib
    out = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        folder = osp.dirname(osp.abspath(getattr(module, '__file__', '') or ''))
        parts = name.split('.')
        for _ in range(len(parts)):
            path = osp.join(folder, 'metafile.yml')
            if osp.isfile(path):
                out.append(path)
                break
            folder = osp.dirname(folder)
    return out


def entry_point_metafiles() -> List[str]:
    """Metafiles of installed plugins (entry points in :data:`ENTRY_POINT_GROUP`;
    each value is a module: its package's ``metafile.yml`` is read)."""
    from importlib.metadata import entry_points
    try:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10
        eps = entry_points().get(ENTRY_POINT_GROUP, [])
    return module_metafiles(ep.value.split(':')[0] for ep in eps)


def load_model_index(extra_metafiles: Iterable[str] = (), plugins: Iterable[str] = ()
                     ) -> ModelIndex:
    """The index of crbench's metafiles, installed plugins, ``plugins`` (module names)
    and ``extra_metafiles`` (paths)."""
    index = ModelIndex()
    for path in (crbench_metafiles() + entry_point_metafiles() + module_metafiles(plugins)
                 + [p for p in extra_metafiles if p]):
        if not osp.isfile(path):
            raise ModelIndexError(f'metafile {path!r} does not exist')
        index.add_metafile(path)
    return index


# ---------------------------------------------------------------------------
# Text: the zoo listing and the README table
# ---------------------------------------------------------------------------

def _link(text: str, url: Optional[str]) -> str:
    return f'[{text}]({url})' if url else text


def zoo_table(index: ModelIndex) -> str:
    """The README's model-zoo table (Markdown), one row per implemented method."""
    lines = ['| Method | Paper | Configs | Official code | Official weights | '
             'Numbers from papers |',
             '|---|---|---|---|---|---:|']
    for c in index.ordered():
        if not c.implemented:
            continue
        paper = c.paper.get('Title', '')
        venue = c.paper.get('Venue')
        paper_text = _link(f'{paper}' + (f' ({venue})' if venue else ''), c.paper.get('URL'))
        folder = osp.dirname(next(m.config for m in c.models if m.config))
        datasets = ', '.join(dict.fromkeys(d for m in c.models for d in m.datasets))
        configs = f'[{folder}/]({folder}/): {datasets}'
        code = c.code.get('URL')
        code_text = _link(code.replace('https://github.com/', ''), code) if code else '—'
        by_url: dict = {}
        for m in c.models:
            for w in m.weights:
                by_url.setdefault(w['URL'], []).append(', '.join(m.datasets) or m.name)
        weights_text = ', '.join(f'[{" / ".join(names)}]({url})'
                                 for url, names in by_url.items()) or '—'
        n_reported = sum(len(r.get('Metrics') or {}) for m in c.models for r in m.results)
        name = _link(c.name, c.readme or None)
        lines.append(f'| {name} | {paper_text} | {configs} | {code_text} | {weights_text} | '
                     f'{n_reported} |')
    return '\n'.join(lines) + '\n'


def readme_section(index: ModelIndex) -> str:
    """What goes between the README markers (markers excluded)."""
    return ('\n<!-- Generated by `crbench zoo --readme README.md` from configs/*/metafile.yml; '
            'do not edit by hand. -->\n\n' + zoo_table(index) + '\n')


def update_readme(path: str, index: ModelIndex, check: bool = False) -> bool:
    """Write the model-zoo section of the README at ``path`` (between the markers).

    With ``check`` nothing is written. Returns True when the file already held
    the generated text."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if README_START not in text or README_END not in text:
        raise ModelIndexError(f'{path}: no {README_START} ... {README_END} markers; add them '
                              'where the model-zoo table goes')
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = head + README_START + readme_section(index) + README_END + tail
    if new == text:
        return True
    if not check:
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(new)
        os.replace(tmp, path)
    return False
