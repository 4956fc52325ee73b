"""Dataset checker: healthy copies pass, broken copies are reported, nothing is written."""
import importlib.util
import io
import os
import os.path as osp

import numpy as np
import pytest
import tifffile
from rich.console import Console

from crbench.datasets import SYNTHETIC_MARKER
from crbench.datasets.check import check_dataset
from crbench.datasets.synthetic import write_cuhk, write_rice, write_sen12mscr, write_sen2mtc
from crbench.setup_env import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def config(name):
    return osp.join(REPO, 'configs/_base_/datasets', f'{name}.py')


def snapshot(root):
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.stat(osp.join(folder, name))
            out[osp.relpath(osp.join(folder, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def rendered(report):
    buffer = io.StringIO()
    report.render(Console(file=buffer, width=200))
    return buffer.getvalue()


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    register_all_modules()
    out = str(tmp_path_factory.mktemp('check'))
    return dict(
        sen12mscr=write_sen12mscr(out, size=16, patches_per_scene=1),
        sen2mtc_new=write_sen2mtc(out, size=16, images_per_tile=1),
        rice1=write_rice(out, counts={1: 10}, size=32),
        cuhk_cr2=osp.join(write_cuhk(out, 'CUHK-CR2', {'train': 3, 'test': 2}, size=32),
                          'CUHK-CR2'))


@pytest.mark.parametrize('name', ['sen12mscr', 'sen2mtc_new', 'rice1', 'cuhk_cr2'])
def test_healthy_synthetic_copies_pass(roots, name):
    report = check_dataset(config(name), data_root=roots[name])
    assert report.ok and report.exit_status == 0
    assert all(s.synthetic and s.status == 'ok' and s.files_checked > 0 for s in report.splits)
    found = {s.split: s.found for s in report.splits}
    published = {s.split: s.published for s in report.splits}
    expected = {'sen12mscr': ({'train': 2, 'val': 2, 'test': 3},
                              {'train': 107143, 'val': 7176, 'test': 7899}),
                'sen2mtc_new': ({'train': 2, 'val': 2, 'test': 2},
                                {'train': 2380, 'val': 350, 'test': 687}),
                'rice1': ({'train': 7, 'val': 1, 'test': 2},
                          {'train': None, 'val': None, 'test': None}),
                # val is carved from the published train folder: no published count
                'cuhk_cr2': ({'train': 2, 'val': 1, 'test': 2},
                             {'train': None, 'val': None, 'test': 111})}[name]
    assert (found, published) == expected
    assert 'all splits usable' in rendered(report)


def test_legacy_published_count_and_dataset_cfg_input(roots):
    cfg = dict(type='SEN12MSCRDataset', data_root=roots['sen12mscr'], split='train',
               split_mode='legacy_substring')
    report = check_dataset(cfg)
    (split, ) = report.splits
    assert split.published == 114050 and split.found == 5 and split.used_by == ['dataset']


def test_broken_sen12mscr_copy(tmp_path):
    root = write_sen12mscr(str(tmp_path), scenes={'ROIs1158_spring': (1, 31)},
                           patches_per_scene=2, size=16)
    s2 = osp.join(root, 'ROIs1158_spring_s2', 's2_1')
    removed = sorted(os.listdir(s2))[0]
    os.remove(osp.join(s2, removed))
    cloudy = osp.join(root, 'ROIs1158_spring_s2_cloudy', 's2_cloudy_31')
    corrupt = osp.join(cloudy, sorted(os.listdir(cloudy))[1])
    with open(corrupt, 'r+b') as f:
        f.write(b'not a tiff at all' * 8)
    os.chmod(corrupt, 0o444)
    before = snapshot(root)
    report = check_dataset(config('sen12mscr'), data_root=root)
    assert snapshot(root) == before, 'the checker must not write into the dataset root'
    assert report.exit_status == 1
    by_split = {s.split: s for s in report.splits}
    patch = removed.split('_p')[1][:-4]
    assert any(f'scene 1 patch p{patch}: no s2 file' in e for e in by_split['train'].errors)
    assert by_split['train'].found == 1
    assert any(corrupt in e and 'corrupt' in e for e in by_split['test'].errors)
    assert by_split['val'].errors == [] and by_split['val'].found is not None
    text = rendered(report)
    assert 'problems found' in text and 'missing partner' in text


def test_broken_sen2mtc_copy(tmp_path):
    root = write_sen2mtc(str(tmp_path), size=16, images_per_tile=2)
    tile = osp.join(root, 'Sen2_MTC', 'T31TBG_R051')
    planar = osp.join(tile, 'cloudless', 'T31TBG_R051_1.tif')
    tifffile.imwrite(planar, tifffile.imread(planar).transpose(2, 0, 1),
                     photometric='minisblack', planarconfig='separate')
    os.remove(osp.join(tile, 'cloud', 'T31TBG_R051_2_0.tif'))
    open(osp.join(tile, 'cloudless', 'readme.txt'), 'w').close()
    tifffile.imwrite(osp.join(root, 'Sen2_MTC', 'T21MUR_R010', 'cloudless', 'T21MUR_R010_1.tif'),
                     np.zeros((16, 16, 4), np.float32), photometric='minisblack')
    report = check_dataset(config('sen2mtc_new'), data_root=root, deep=True)
    test = {s.split: s for s in report.splits}['test']
    train = {s.split: s for s in report.splits}['train']
    assert report.exit_status == 1 and test.status == 'errors'
    assert any('planar' in e and planar in e for e in test.errors)
    assert any(e.startswith('missing partner') and 'T31TBG_R051_2_0.tif' in e
               for e in test.errors)
    assert any('readme.txt' in w for w in test.warnings)
    assert train.errors == [] and any('float32' in w for w in train.warnings)


def test_broken_cuhk_and_rice_copies(tmp_path):
    top = write_cuhk(str(tmp_path), 'CUHK-CR1', {'train': 3, 'test': 2}, size=32)
    os.remove(osp.join(top, 'nir', 'CUHK-CR1', 'train', 'label', '1.png'))
    report = check_dataset(config('cuhk_cr1'), data_root=osp.join(top, 'CUHK-CR1'))
    by_split = {s.split: s for s in report.splits}
    assert report.exit_status == 1
    assert by_split['train'].found + by_split['val'].found == 2   # 1 of 3 lacks its NIR label
    assert any('1.png' in e and 'nir' in e for e in by_split['train'].errors)

    rice = write_rice(str(tmp_path), counts={2: 10}, size=32)
    bad = osp.join(rice, 'RICE2', 'label', '3.png')
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + b'\0' * 40)
    report = check_dataset(config('rice2'), data_root=rice)
    assert report.exit_status == 1
    assert any(bad in e for s in report.splits for e in s.errors)


def test_count_mismatch_on_a_real_looking_copy(tmp_path):
    root = write_sen2mtc(str(tmp_path), size=16, images_per_tile=1)
    os.remove(osp.join(root, SYNTHETIC_MARKER))
    report = check_dataset(config('sen2mtc_new'), data_root=root)
    assert {s.status for s in report.splits} == {'count differs'}
    assert report.exit_status == 0
    assert check_dataset(config('sen2mtc_new'), data_root=root,
                         strict_counts=True).exit_status == 1


def test_tool_exit_status(roots, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'check_dataset_tool', osp.join(REPO, 'tools', 'check_dataset.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([config('rice1'), '--data-root', roots['rice1']]) == 0
    assert 'RICE1' in capsys.readouterr().out
    assert tool.main([config('rice1'), '--data-root', str(tmp_path)]) == 1
    assert 'no RICE1/cloud folder' in capsys.readouterr().out


def test_each_dataset_checks_itself_and_plugins_can_too(tmp_path):
    """The report dispatches to ``<Dataset>.check_split``; a registered dataset of a plugin
    brings its own check, one without gets a clear error naming the method."""
    from crbench.datasets import BaseCRDataset, cuhk_cr
    from crbench.datasets.synthetic import cuhk as synthetic_cuhk
    from crbench.registry import DATASETS

    # one place for CUHK-CR's published counts, read by the check and the generator
    assert synthetic_cuhk.CUHK_COUNTS is cuhk_cr.PUBLISHED_COUNTS
    top = write_cuhk(str(tmp_path), 'CUHK-CR2', {'train': 2, 'test': 1}, size=16)
    nir = osp.join(top, 'nir', 'CUHK-CR2')
    assert cuhk_cr.default_nir_root(osp.join(top, 'CUHK-CR2') + '/') == nir

    name = f'PluginCheckedDataset{os.getpid()}'

    @DATASETS.register_module(name=name)
    class PluginChecked(BaseCRDataset):
        @classmethod
        def check_split(cls, cfg, report, deep=False, max_samples=None, progress=None):
            report.dataset, report.found, report.published = 'Plugin', 7, 9

    unchecked = f'PluginUncheckedDataset{os.getpid()}'
    DATASETS.register_module(name=unchecked, module=type('Unchecked', (BaseCRDataset,), {}))
    report = check_dataset([dict(type=name, data_root=str(tmp_path), split='test'),
                            dict(type=unchecked, data_root=str(tmp_path), split='test')])
    plugin, other = report.splits
    assert (plugin.dataset, plugin.found, plugin.published, plugin.status) == \
        ('Plugin', 7, 9, 'count differs')
    assert any('does not implement check_split' in e for e in other.errors)
    assert report.exit_status == 1


@pytest.mark.parametrize('name, kind', [('rice1', 'RICEDataset'), ('cuhk_cr2', 'CUHKCRDataset')])
def test_carved_split_options_are_the_dataset_s(roots, name, kind):
    """The check counts the train / val split the dataset reads, with its val options."""
    from crbench.registry import DATASETS
    for split in ('train', 'val'):
        cfg = dict(type=kind, data_root=roots[name], split=split, val_fraction=0.5,
                   val_seed=3)
        (report, ) = check_dataset(cfg).splits
        assert report.found == len(DATASETS.build(dict(cfg, use_nir=False)
                                                  if kind == 'CUHKCRDataset' else cfg))
