"""``crbench zoo``: list and filter the model index (configs, papers, official weights).

    crbench zoo                          # every model and its configs
    crbench zoo emrdm --weights          # EMRDM configs with official weights
    crbench zoo --dataset RICE1 --json   # machine-readable
    crbench zoo --readme README.md [--check]   # (check) the README's model-zoo table

The index is read from configs/*/metafile.yml and the metafiles of plugins
(crbench/model_index.py describes the schema).
"""
import argparse
import json
import sys

PROG = 'crbench zoo'


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('query', nargs='?', default='',
                        help='part of a model, method or config name (case-insensitive)')
    parser.add_argument('--dataset', default='', help='only models trained on this dataset')
    parser.add_argument('--weights', action='store_true',
                        help='only models with official weights')
    parser.add_argument('--plugin', action='append', default=[], metavar='MODULE',
                        help='also read the metafile.yml of this plugin package')
    parser.add_argument('--metafile', action='append', default=[], metavar='PATH',
                        help='also read this metafile')
    parser.add_argument('--json', action='store_true', help='print the entries as JSON')
    parser.add_argument('--readme', metavar='README.md',
                        help='write the model-zoo table between the README\'s markers')
    parser.add_argument('--check', action='store_true',
                        help='with --readme: exit 1 if the README table is out of date')
    return parser.parse_args(argv)


def _entry(model, collection) -> dict:
    return {'name': model.name, 'method': collection.name, 'key': collection.key,
            'config': model.config, 'datasets': model.datasets,
            'paper': collection.paper, 'code': collection.code,
            'reported': model.results, 'weights': model.weights}


def main(argv=None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    from crbench.model_index import (ModelIndexError, load_model_index, update_readme)
    try:
        index = load_model_index(args.metafile, args.plugin)
    except (ModelIndexError, ImportError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2
    if args.readme:
        try:
            current = update_readme(args.readme, index, check=args.check)
        except (ModelIndexError, OSError) as err:
            print(f'{prog}: {err}', file=sys.stderr)
            return 2
        if args.check:
            if not current:
                print(f'{prog}: the model-zoo table of {args.readme} is out of date; run '
                      f'`crbench zoo --readme {args.readme}`', file=sys.stderr)
            return 0 if current else 1
        print(f'{args.readme}: model-zoo table ' + ('unchanged' if current else 'updated'))
        return 0
    models = index.filter(args.query, args.dataset, args.weights)
    if args.json:
        print(json.dumps([_entry(m, index.collections[m.key]) for m in models],
                         indent=1, default=str))
        return 0
    if not models:
        print(f'{prog}: no model matches', file=sys.stderr)
        return 1
    from rich.console import Console
    from rich.table import Table
    table = Table(title='crbench model zoo')
    for column in ('Method', 'Config', 'Data', 'Reported', 'Official weights'):
        table.add_column(column, overflow='fold')
    for m in models:
        collection = index.collections[m.key]
        weights = '; '.join(
            f"{w['URL']} (sha256 {(w.get('SHA256') or 'not known yet')[:12]})"
            for w in m.weights) or '—'
        reported = ', '.join(f"{r.get('Paper', '')} {r.get('Table', '')}".strip()
                             for r in m.results) or '—'
        table.add_row(collection.name, m.config or '(reported only)', ', '.join(m.datasets),
                      reported, weights)
    Console().print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
