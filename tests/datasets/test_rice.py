"""RICE1 / RICE2: raw layout, the documented 8:2 split, shipped lists, RGBA, synthetic twin."""
import importlib.util
import os
import os.path as osp
import shutil
import warnings

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from crbench.datasets import SYNTHETIC_MARKER, DatasetLayoutError, RICEDataset
from crbench.datasets.rice import (FIGURE_IDS, make_rice_split, read_id_list,
                                   shipped_split_file)
from crbench.datasets.synthetic import write_rice
from crbench.datasets.transforms import matlab_imresize
from crbench.setup_env import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def pipeline(version=1):
    return Config.fromfile(osp.join(REPO, f'configs/_base_/datasets/rice{version}.py')
                           ).train_pipeline


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    register_all_modules()
    return write_rice(str(tmp_path_factory.mktemp('rice')), counts={1: 11, 2: 12}, size=64,
                      seed=2, rgba=True)


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_rice1_lists():
    train = read_id_list(shipped_split_file(1, 'train'))
    test = read_id_list(shipped_split_file(1, 'test'))
    assert len(train) == 400 and len(test) == 100
    assert set(train).isdisjoint(test)
    assert set(train) | set(test) == {str(i) for i in range(500)}
    assert set(FIGURE_IDS[1]) <= set(test)
    assert not osp.exists(shipped_split_file(2, 'train'))  # id range of RICE2 unknown


def test_tool_regenerates_the_shipped_lists(tmp_path):
    load_tool('make_rice_split').main(['--version', '1', '--ids', '0-499',
                                       '--out', str(tmp_path)])
    for split in ('train', 'test'):
        with open(tmp_path / f'rice1_{split}.txt') as a, open(shipped_split_file(1, split)) as b:
            assert a.read() == b.read()


def test_split_rule():
    ids = [str(i) for i in range(37)]
    split = make_rice_split(ids, seed=5, force_test=('3', '36', '999'))
    assert len(split['test']) == 7 and len(split['train']) == 30   # floor(7.4 + 0.5)
    assert {'3', '36'} <= set(split['test'])                       # forced, absent id ignored
    assert split == make_rice_split(reversed(ids), seed=5, force_test=('3', '36'))
    assert make_rice_split(ids, seed=6)['test'] != make_rice_split(ids, seed=5)['test']
    with pytest.raises(ValueError, match='forced'):
        make_rice_split(ids[:5], force_test=ids[:5])


def test_synthetic_round_trip_rgba_and_counts_from_disk(root):
    for version, total in ((1, 11), (2, 12)):
        datasets = {s: RICEDataset(data_root=root, version=version, split=s,
                                   pipeline=pipeline(version)) for s in ('trainval', 'test')}
        ids = {s: [i['sample_id'] for i in d.data_list] for s, d in datasets.items()}
        assert len(ids['test']) == int(np.floor(0.2 * total + 0.5))
        assert len(ids['trainval']) + len(ids['test']) == total
        assert set(ids['trainval']).isdisjoint(ids['test'])
        split = make_rice_split([str(i) for i in range(total)], force_test=FIGURE_IDS[version])
        assert (ids['trainval'], ids['test']) == (split['train'], split['test'])
        assert '0' in ids['test'] or version == 2          # a RICE1 figure id
        sample = datasets['test'][0]
        assert sample['inputs']['cloudy'].shape == (3, 32, 32)   # alpha dropped, ×0.5
        assert sample['data_samples'].gt.shape == (3, 32, 32)
        with Image.open(datasets['test'].get_data_info(0)['cloudy_path']) as img:
            raw = np.asarray(img)[..., :3].astype(np.float32)
        expected = matlab_imresize(raw, 0.5) / 127.5 - 1           # no rounding, no clipping
        np.testing.assert_allclose(sample['inputs']['cloudy'].numpy().transpose(1, 2, 0),
                                   expected, atol=1e-5)
        assert sample['data_samples'].metainfo['synthetic'] is True
    info = datasets['test'].get_data_info(0)
    assert info['cloud_mask_path'].endswith(osp.join('RICE2', 'mask', f'{info["sample_id"]}.png'))
    with Image.open(info['cloud_mask_path']) as mask:
        assert mask.mode == 'L'
    with Image.open(datasets['test'].get_data_info(0)['cloudy_path']) as cloudy:
        assert cloudy.mode == 'RGBA' and cloudy.size == (64, 64)


def test_shipped_list_on_a_real_copy_and_user_lists(root, tmp_path):
    real = shutil.copytree(root, str(tmp_path / 'RICE_DATASET'))
    os.remove(osp.join(real, SYNTHETIC_MARKER))          # looks like a real download now
    with pytest.raises(DatasetLayoutError, match='numbers its files differently'):
        RICEDataset(data_root=real, version=1, split='test')
    computed = RICEDataset(data_root=real, version=1, split='test', split_file=None)
    assert len(computed) == 2 and not computed.synthetic
    listing = tmp_path / 'my_test.txt'
    listing.write_text('4.png\n# a comment\n\n7\n')
    mine = RICEDataset(data_root=osp.join(real, 'RICE1'), version=1, split='test',
                       split_file=str(listing))
    assert [i['sample_id'] for i in mine.data_list] == ['4', '7']


def test_unpaired_files_and_bad_layout(root, tmp_path):
    copy = shutil.copytree(root, str(tmp_path / 'RICE_DATASET'))
    complete = {s: [i['sample_id'] for i in RICEDataset(data_root=root, version=2,
                                                         split=s).data_list]
                for s in ('trainval', 'test')}
    os.remove(osp.join(copy, 'RICE2', 'label', '5.png'))
    sets = {}
    for split in ('trainval', 'test'):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            sets[split] = RICEDataset(data_root=copy, version=2, split=split)
        if split == ('test' if '5' in complete['test'] else 'trainval'):
            assert any('no label image' in str(w.message) for w in caught)
            assert [s['sample_id'] for s in sets[split].skipped] == ['5']
        else:
            assert not sets[split].skipped
    assert len(sets['trainval']) + len(sets['test']) == 11
    # the split does not move when a partner file is missing: '5' is only skipped
    for split, ds in sets.items():
        assert [i['sample_id'] for i in ds.data_list] == [i for i in complete[split] if i != '5']
    with pytest.raises(DatasetLayoutError, match='RICE1/cloud'):
        RICEDataset(data_root=str(tmp_path), version=1)
    with pytest.raises(ValueError, match='version'):
        RICEDataset(data_root=copy, version=3)


def test_read_only_root_is_never_written(root):
    def snapshot():
        return {osp.join(d, n): os.stat(osp.join(d, n)).st_mtime_ns
                for d, dirs, files in os.walk(root) for n in dirs + files}
    before = snapshot()
    modes = {p: os.stat(p).st_mode for p in [root] + list(before)}
    for path, mode in modes.items():
        os.chmod(path, mode & ~0o222)
    try:
        for version in (1, 2):
            for split in ('train', 'test'):
                dataset = RICEDataset(data_root=root, version=version, split=split,
                                      pipeline=pipeline(version))
                for index in range(len(dataset)):
                    dataset[index]
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert snapshot() == before


def test_tool_refuses_to_overwrite_the_shipped_lists():
    from crbench.datasets.rice import SPLIT_DIR
    with pytest.raises(SystemExit, match='shipped splits'):
        load_tool('make_rice_split').main(['--version', '1', '--ids', '0-499', '--out', SPLIT_DIR])
