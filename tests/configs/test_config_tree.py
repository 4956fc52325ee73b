"""The config tree: every config loads and names registered types, inherits at most three
levels deep, trains with the NaN/inf loss guard, reads its dataset's splits, and every model
folder documents a smoke config that exists."""
import ast
import glob
import os.path as osp
import re

import pytest
from helpers import SMOKE_MODELS
from mmengine.config import Config

from crbench.apis import check_registered_types
from crbench.engine.multi_stage import parse_stages, stage_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')
ALL = sorted(p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
             if '_base_' not in osp.relpath(p, CONFIGS).split(osp.sep))
MAX_DEPTH = 3
# every model folder (one with a metafile): the seven of the papers and each method added since
MODEL_FOLDERS = tuple(sorted(osp.basename(osp.dirname(p)) for p in
                             glob.glob(osp.join(CONFIGS, '*', 'metafile.yml'))))

# dataset key in a config's file name -> the dataset base whose splits it must read
DATASET_BASES = {'cuhkcr1': 'cuhk_cr1.py', 'cuhkcr2': 'cuhk_cr2.py', 'rice1': 'rice1.py',
                 'rice2': 'rice2.py', 'sen12mscr': 'sen12mscr.py',
                 'sen2mtc_new': 'sen2mtc_new.py'}


def rel(path):
    return osp.relpath(path, REPO)


def base_files(path):
    """The files a config's ``_base_`` names, as absolute paths."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            names = [value] if isinstance(value, str) else list(value)
            return [osp.normpath(osp.join(osp.dirname(path), n)) for n in names]
    return []


def inheritance_depth(path):
    """Edges on the longest ``_base_`` chain from ``path`` to a config without bases."""
    bases = base_files(path)
    return 1 + max(inheritance_depth(b) for b in bases) if bases else 0


def stage_configs(cfg):
    """The config itself, and each stage's config for a multi-stage config."""
    if not cfg.get('stages'):
        return [('', cfg)]
    cfg = cfg.copy()
    cfg.work_dir = '/tmp/unused'
    return [(f"stage {s['name']}: ", stage_config(cfg, s)) for s in parse_stages(cfg)]


def test_the_tree_holds_the_known_configs():
    assert len(ALL) >= 70
    names = {rel(p) for p in ALL}
    assert 'configs/de/ablations/de_msda_rice2_t9_r2_prior_fixed.py' in names


@pytest.mark.parametrize('path', ALL, ids=rel)
def test_config_loads_with_registered_types(path):
    for where, cfg in stage_configs(Config.fromfile(path)):
        try:
            check_registered_types(cfg)
        except Exception as err:  # name the stage in the failure
            raise AssertionError(f'{rel(path)}: {where}{err}') from err


def test_inheritance_depth_is_measured():
    # A deep chain: an ablation on a DE config on the DE bases on the datasets/runtime.
    path = osp.join(CONFIGS, 'de', 'ablations', 'de_msda_rice2_t9_r2_prior_fixed.py')
    assert inheritance_depth(path) == 3
    assert inheritance_depth(osp.join(CONFIGS, '_base_', 'default_runtime.py')) == 0
    assert inheritance_depth(osp.join(CONFIGS, '_base_', 'datasets', 'rice2.py')) == 1


@pytest.mark.parametrize('path', ALL, ids=rel)
def test_inheritance_at_most_three_levels(path):
    assert inheritance_depth(path) <= MAX_DEPTH, (
        f'{rel(path)} inherits {inheritance_depth(path)} levels deep; inherit the bases '
        'directly instead of a config that inherits them')


@pytest.mark.parametrize('path', ALL, ids=rel)
def test_training_keeps_the_nan_guard(path):
    """configs/_base_/default_runtime.py's NonFiniteLossHook is kept by every config that
    trains (and by each of its stages): a config adding hooks must append to the list."""
    cfg = Config.fromfile(path)
    if not (cfg.get('train_cfg') and cfg.get('train_dataloader')):
        return
    for where, scfg in stage_configs(cfg):
        hooks = [h['type'] for h in scfg.get('custom_hooks') or []]
        assert 'NonFiniteLossHook' in hooks, f'{rel(path)}: {where}custom_hooks = {hooks}'


def _split_keys(loader):
    return {k: v for k, v in loader.dataset.items() if k not in ('pipeline', 'mono_temporal')}


@pytest.mark.parametrize('path', [p for p in ALL if osp.basename(osp.dirname(p)) != 'smoke'
                                  and 'demo' not in p], ids=rel)
def test_datasets_are_those_of_the_dataset_base(path):
    """A config named for a dataset reads the splits of configs/_base_/datasets/<dataset>.py
    (pipelines may differ; single-image models pick one date of Sen2_MTC_New)."""
    match = re.search(r'_(' + '|'.join(DATASET_BASES) + r')(_|\.py$)', osp.basename(path))
    assert match, f'{rel(path)} names no dataset'
    cfg = Config.fromfile(path)
    base = Config.fromfile(osp.join(CONFIGS, '_base_', 'datasets', DATASET_BASES[match.group(1)]))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert _split_keys(cfg[key]) == _split_keys(base[key]), f'{rel(path)}: {key}'
    assert cfg.val_evaluator == base.val_evaluator and cfg.test_evaluator == base.test_evaluator


@pytest.mark.parametrize('folder', SMOKE_MODELS)
def test_every_model_documents_a_smoke_config(folder):
    with open(osp.join(CONFIGS, folder, 'README.md')) as f:
        text = f.read()
    assert '## Smoke test' in text, f'configs/{folder}/README.md has no "Smoke test" section'
    section = text.split('## Smoke test', 1)[1].split('\n## ', 1)[0]
    smoke = re.findall(r'configs/smoke/[\w.]+\.py', section)
    assert smoke, f'configs/{folder}/README.md: the smoke section names no configs/smoke/ config'
    for path in smoke:
        assert osp.isfile(osp.join(REPO, path)), path
    assert 'tools/make_synthetic_data.py' in section and 'tools/test.py' in section
