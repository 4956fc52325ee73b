"""Compare the resolved form of every config under configs/ with a snapshot or a git revision.

A config's resolved form is what MMEngine builds from it after following every
``_base_``: a plain dict (``Config.to_dict()``) without the bookkeeping keys
(``filename``, text). A multi-stage config (``stages``, crbench/engine/multi_stage.py)
is resolved one step further: ``stages`` becomes, per stage, the stage's entry
as ``parse_stages`` reads it and the complete config that stage's Runner gets
(``stage_config``), so two ways of writing the same stages compare equal and
two stages that would train differently do not. Both sides are expanded with
this checkout's multi_stage.py.

Usage::

    # write the resolved form of every config to a JSON file
    python tools/compare_configs.py --dump work_dirs/configs_before.json
    # compare the working tree with a git revision (exit 1 on any difference)
    python tools/compare_configs.py --ref HEAD~3
    # compare the working tree with a snapshot written by --dump; show the differing values
    python tools/compare_configs.py --snapshot work_dirs/configs_before.json --values

Configs in ``_base_`` folders are skipped: they are compared through the
configs that inherit them. Configs are only loaded, nothing is built.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # crbench, when run as a script from a clone

# Bookkeeping a Config carries that is not configuration.
DROPPED_KEYS = ('filename', 'text', 'pretty_text', 'env_variables')
STAGE_WORK_DIR = '<work_dir>'


def config_paths(root: str):
    """Every config file under ``root``/configs, relative to ``root``, sorted."""
    paths = glob.glob(osp.join(root, 'configs', '**', '*.py'), recursive=True)
    rel = [osp.relpath(p, root) for p in paths]
    return sorted(p for p in rel if '_base_' not in p.split(os.sep))


def _plain(value):
    """Containers to JSON-comparable ones: tuples become lists, non-finite floats strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _without_bookkeeping(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k not in DROPPED_KEYS}


def resolve(path: str) -> dict:
    """The resolved, plain form of the config file ``path``."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    resolved = _without_bookkeeping(cfg.to_dict())
    if cfg.get('stages'):
        resolved['stages'] = _resolve_stages(cfg)
    return _plain(resolved)


def _resolve_stages(cfg) -> list:
    from crbench.engine.multi_stage import parse_stages, stage_config
    cfg = cfg.copy()
    cfg.work_dir = STAGE_WORK_DIR
    out = []
    for stage in parse_stages(cfg):
        # cfg_options and train_pipeline are in the stage's config.
        entry = {k: v for k, v in stage.items() if k not in ('cfg_options', 'train_pipeline')}
        entry['config'] = _without_bookkeeping(stage_config(cfg, stage).to_dict())
        out.append(entry)
    return out


def resolve_tree(root: str) -> dict:
    """``{relative path: resolved form or {'error': message}}`` of every config in ``root``."""
    out = {}
    cwd = os.getcwd()
    os.chdir(root)  # configs that name files relative to the repository
    try:
        for rel in config_paths(root):
            try:
                out[rel] = resolve(osp.join(root, rel))
            except Exception as err:  # report and go on: one broken config is a difference
                out[rel] = {'error': f'{type(err).__name__}: {err}'}
    finally:
        os.chdir(cwd)
    return out


def differing_keys(a, b, prefix: str = '') -> list:
    """Dotted paths at which two resolved forms differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = []
        for k in sorted(set(a) | set(b)):
            where = f'{prefix}.{k}' if prefix else str(k)
            if k not in a:
                keys.append(f'{where} (added)')
            elif k not in b:
                keys.append(f'{where} (removed)')
            else:
                keys.extend(differing_keys(a[k], b[k], where))
        return keys
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        keys = []
        for i, (x, y) in enumerate(zip(a, b)):
            keys.extend(differing_keys(x, y, f'{prefix}[{i}]'))
        return keys
    return [] if a == b else [prefix or '<root>']


def _value_at(resolved, dotted: str):
    """The value at a path printed by :func:`differing_keys` (``a.b[0].c``)."""
    value = resolved
    for part in dotted.replace('[', '.[').split('.'):
        value = value[int(part[1:-1])] if part.startswith('[') else value[part]
    return value


def compare(before: dict, after: dict, max_keys: int = 12, values: bool = False) -> int:
    """Print ``same``/``DIFFERENT`` per config; return the number of differing configs."""
    different = 0
    for rel in sorted(set(before) | set(after)):
        if rel not in before:
            print(f'NEW        {rel}')
            continue
        if rel not in after:
            print(f'REMOVED    {rel}')
            different += 1
            continue
        keys = differing_keys(before[rel], after[rel])
        if not keys:
            print(f'same       {rel}')
            continue
        different += 1
        shown = ', '.join(keys[:max_keys]) + (f', ... ({len(keys)} in all)'
                                              if len(keys) > max_keys else '')
        print(f'DIFFERENT  {rel}: {shown}')
        if values:
            for key in keys[:max_keys]:
                if not key.endswith(')'):  # not an added/removed key
                    print(f'    {key}: {_value_at(before[rel], key)!r}\n'
                          f'    {" " * len(key)}  -> {_value_at(after[rel], key)!r}')
    compared = len(set(before) & set(after))
    print(f'{compared - different} of {compared} configs the same, {different} different; '
          f'{len(set(after) - set(before))} new, {len(set(before) - set(after))} removed')
    return different


def resolve_revision(rev: str) -> dict:
    """Resolve the configs of git revision ``rev`` (a temporary copy of its configs/)."""
    with tempfile.TemporaryDirectory(prefix='crbench_configs_') as tmp:
        archive = subprocess.run(['git', '-C', REPO, 'archive', '--format=tar', rev, 'configs'],
                                 capture_output=True)
        if archive.returncode != 0:
            sys.exit(f'git archive {rev} configs failed: {archive.stderr.decode().strip()}')
        subprocess.run(['tar', '-x', '-C', tmp], input=archive.stdout, check=True)
        return resolve_tree(tmp)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument('--dump', metavar='JSON', help='write the resolved configs to this file')
    what.add_argument('--ref', metavar='REV', help='compare with this git revision')
    what.add_argument('--snapshot', metavar='JSON', help='compare with a file from --dump')
    parser.add_argument('--values', action='store_true',
                        help='print the values before and after of each differing key')
    args = parser.parse_args(argv)

    current = resolve_tree(REPO)
    if args.dump:
        os.makedirs(osp.dirname(osp.abspath(args.dump)), exist_ok=True)
        with open(args.dump, 'w') as f:
            json.dump(current, f, indent=1, sort_keys=True)
        errors = sorted(k for k, v in current.items() if 'error' in v and len(v) == 1)
        print(f'{len(current)} configs written to {args.dump}'
              + (f'; {len(errors)} failed to load: {errors}' if errors else ''))
        return 0
    if args.ref:
        before = resolve_revision(args.ref)
    else:
        if not osp.isfile(args.snapshot):
            print(f'{args.snapshot} does not exist; write it with --dump', file=sys.stderr)
            return 2
        with open(args.snapshot) as f:
            before = json.load(f)
    return 1 if compare(before, current, values=args.values) else 0


if __name__ == '__main__':
    sys.exit(main())
