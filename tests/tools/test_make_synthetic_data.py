"""tools/make_synthetic_data.py: small images by default, the exact --data-root printed,
and a wrong --data-root reported as the folder that is really missing."""
import importlib.util
import os.path as osp

import pytest
from PIL import Image

from crbench.datasets import CUHKCRDataset, DatasetLayoutError, RICEDataset
from crbench.datasets.synthetic import DEFAULT_SIZE, WRITERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_data_tool', osp.join(REPO, 'tools', 'make_synthetic_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def printed_data_root(out: str) -> str:
    line = out.strip().splitlines()[-1].strip()
    assert line.startswith('--data-root ')
    return line[len('--data-root '):]


def test_default_is_small_and_the_printed_data_root_loads(tmp_path, capsys):
    assert DEFAULT_SIZE <= 64
    assert load_tool().main(['--dataset', 'cuhk_cr2', '--out', str(tmp_path),
                             '--train', '2', '--test', '1']) == 0
    data_root = printed_data_root(capsys.readouterr().out)
    assert data_root == osp.join(str(tmp_path), 'C-CUHK', 'CUHK-CR2')
    dataset = CUHKCRDataset(data_root=data_root, split='trainval')  # train + carved val
    assert len(dataset) == 2
    with Image.open(dataset.get_data_info(0)['cloudy_path']) as img:
        assert img.size == (DEFAULT_SIZE, DEFAULT_SIZE)


@pytest.mark.parametrize('name', ['rice1', 'sen2mtc_new'])
def test_every_writer_returns_its_data_root(tmp_path, name):
    data_root = WRITERS[name](str(tmp_path), {'train': 2, 'test': 2}, 16, 0, None)
    if name == 'rice1':
        assert len(RICEDataset(data_root=data_root, version=1, split='test')) >= 1
    else:
        assert osp.isfile(osp.join(data_root, 'test.txt'))


def test_size_is_checked(capsys):
    with pytest.raises(SystemExit):
        load_tool().main(['--dataset', 'cuhk_cr2', '--out', 'unused', '--size', '4'])
    assert '--size must be at least 8' in capsys.readouterr().err


def test_empty_data_root_names_the_missing_rgb_folder(tmp_path):
    with pytest.raises(DatasetLayoutError) as err:
        CUHKCRDataset(data_root=str(tmp_path), split='train')
    message = str(err.value).split('\nExpected layout')[0]
    assert osp.join(str(tmp_path), 'train', 'cloud') in message
    assert 'NIR' not in message and 'nir' not in message


def test_parent_folder_as_data_root_gets_the_right_one(tmp_path):
    WRITERS['cuhk_cr2'](str(tmp_path), {'train': 1, 'test': 1}, 16, 0, None)
    parent = osp.join(str(tmp_path), 'C-CUHK')
    with pytest.raises(DatasetLayoutError) as err:
        CUHKCRDataset(data_root=parent, split='train')
    assert f'--data-root {osp.join(parent, "CUHK-CR2")}' in str(err.value)


def test_refuses_to_write_into_a_real_copy(tmp_path, capsys):
    real = tmp_path / 'C-CUHK' / 'CUHK-CR2' / 'test' / 'cloud'
    real.mkdir(parents=True)
    (real / '1.png').write_bytes(b'real data')
    assert load_tool().main(['--dataset', 'cuhk_cr2', '--out', str(tmp_path), '--train', '1',
                             '--test', '1', '--size', '16']) == 2
    assert 'C-CUHK' in capsys.readouterr().err
    assert (real / '1.png').read_bytes() == b'real data'
    # a synthetic copy may be written again (CUHK-CR1 beside CUHK-CR2, or a new seed)
    other = tmp_path / 'synthetic'
    for name in ('cuhk_cr2', 'cuhk_cr1', 'cuhk_cr2'):
        assert load_tool().main(['--dataset', name, '--out', str(other), '--train', '1',
                                 '--test', '1', '--size', '16']) == 0
