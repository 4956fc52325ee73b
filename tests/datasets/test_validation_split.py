"""No model selection on test images: every shipped config's val and test sets are disjoint.

CUHK-CR1/2 and RICE1/2 publish only train and test; crbench carves 'val' from the
published training split (crbench/datasets/base.py ``carve_validation_split``).
SEN12MS-CR and Sen2_MTC_New keep their official val splits.
"""
import glob
import importlib.util
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from crbench.datasets import CUHKCRDataset
from crbench.datasets.base import carve_validation_split
from crbench.datasets.rice import RICEDataset
from crbench.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TWINS = {  # make_synthetic_data.py --dataset KEY; the data_root of its configs below the output
    'cuhk_cr1': 'C-CUHK/CUHK-CR1', 'cuhk_cr2': 'C-CUHK/CUHK-CR2', 'rice1': 'RICE_DATASET',
    'rice2': 'RICE_DATASET', 'sen12mscr': 'SEN12MSCR', 'sen2mtc_new': 'Sen2_MTC_New'}


def shipped_configs():
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, REPO) for p in paths if '_base_' not in p.split(osp.sep))


@pytest.fixture(scope='module')
def twins(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_data', osp.join(REPO, 'tools', 'make_synthetic_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    roots = {}
    for key, below in TWINS.items():
        out = str(tmp_path_factory.mktemp(key))
        assert tool.main(['--dataset', key, '--out', out, '--train', '12', '--test', '4',
                          '--size', '16']) == 0
        roots[key] = osp.join(out, below)
        assert osp.isdir(roots[key]), roots[key]
    return roots


def twin_key(ds_cfg) -> str:
    kind = ds_cfg['type']
    if kind == 'CUHKCRDataset':
        return 'cuhk_cr1' if 'CUHK-CR1' in ds_cfg['data_root'] else 'cuhk_cr2'
    if kind == 'RICEDataset':
        return f"rice{ds_cfg.get('version', 1)}"
    return {'SEN12MSCRDataset': 'sen12mscr', 'Sen2MTCNewDataset': 'sen2mtc_new'}[kind]


def image_files(dataset) -> set:
    files = set()
    for info in dataset.data_list:
        for key, value in info.items():
            if key.endswith('_path'):
                files.update(value if isinstance(value, (list, tuple)) else [value])
    return files


def test_rule_is_deterministic_and_partitions_the_training_split():
    ids = [str(i) for i in range(534)]
    parts = carve_validation_split(ids)
    assert (len(parts['train']), len(parts['val'])) == (481, 53)   # floor(53.4 + 0.5)
    assert sorted(parts['train'] + parts['val'], key=int) == ids
    assert not set(parts['train']) & set(parts['val'])
    assert parts == carve_validation_split(reversed(ids))           # order-free, seeded
    expected = sorted((ids[p] for p in np.random.default_rng(0).permutation(534)[:53]), key=int)
    assert parts['val'] == expected                                  # the documented rule
    assert carve_validation_split(ids, seed=1)['val'] != parts['val']
    assert [len(carve_validation_split(map(str, range(n)))['val']) for n in (2, 3, 448, 400)] \
        == [1, 1, 45, 40]
    with pytest.raises(ValueError, match='at least 2'):
        carve_validation_split(['0'])


@pytest.mark.parametrize('config', shipped_configs())
def test_val_and_test_share_no_image(config, twins):
    cfg = Config.fromfile(osp.join(REPO, config))
    built = {}
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        key = twin_key(ds_cfg)
        ds_cfg.pop('pipeline', None)
        ds_cfg['data_root'] = twins[key]
        built[split] = DATASETS.build(ds_cfg)
    assert built['test'].split == 'test' and built['val'].split == 'val', config
    files = {split: image_files(ds) for split, ds in built.items()}
    assert files['val'] and files['test']
    assert not files['val'] & files['test'], f'{config}: val and test share images'
    assert not files['train'] & files['val'], f'{config}: train and val share images'
    assert not files['train'] & files['test'], f'{config}: train and test share images'


def test_cuhk_val_is_carved_from_the_train_folder(twins):
    root = twins['cuhk_cr2']
    sets = {s: CUHKCRDataset(data_root=root, split=s) for s in ('train', 'val', 'trainval', 'test')}
    ids = {s: [i['sample_id'] for i in ds.data_list] for s, ds in sets.items()}
    assert sorted(ids['train'] + ids['val'], key=int) == sorted(ids['trainval'], key=int)
    assert ids['val'] == carve_validation_split(ids['trainval'])['val']
    assert len(ids['trainval']) == 12 and len(ids['val']) == 1
    assert all('/train/' in i['gt_path'] for s in ('train', 'val') for i in sets[s].data_list)
    assert all('/test/' in i['gt_path'] for i in sets['test'].data_list)


def test_rice_val_is_carved_from_the_8_2_training_split(twins):
    root = twins['rice2']
    sets = {s: RICEDataset(data_root=root, version=2, split=s)
            for s in ('train', 'val', 'trainval', 'test')}
    ids = {s: [i['sample_id'] for i in ds.data_list] for s, ds in sets.items()}
    assert set(ids['train']) | set(ids['val']) == set(ids['trainval'])
    assert not set(ids['trainval']) & set(ids['test'])
    assert len(ids['trainval']) + len(ids['test']) == 16
    assert ids['val'] == carve_validation_split(ids['trainval'])['val']


def test_rice1_shipped_list_gives_360_train_40_val():
    from crbench.datasets.rice import read_id_list, shipped_split_file
    pool = read_id_list(shipped_split_file(1, 'train'))
    parts = carve_validation_split(pool)
    assert (len(parts['train']), len(parts['val'])) == (360, 40)
    assert not set(parts['val']) & set(read_id_list(shipped_split_file(1, 'test')))
