"""Incomplete or damaged splits: what the tools are told, also from loader workers."""
import os.path as osp
import re

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from crbench.datasets import CUHKCRDataset
from crbench.datasets.base import DatasetLayoutError
from crbench.datasets.completeness import (IncompleteDatasetError, find_unreadable,
                                           read_error_message, require_complete)
from crbench.datasets.synthetic import write_cuhk
from crbench.datasets.transforms import ImageReadError, read_png

from .test_check import snapshot

LOAD = dict(type='LoadImageBands', sources=dict(cloudy=[('cloudy_path', [0, 1, 2])],
                                                gt=[('gt_path', [0, 1, 2])]))


class ReadsAPNG(Dataset):
    def __init__(self, path):
        self.path = path

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return torch.from_numpy(read_png(self.path).copy())


@pytest.fixture
def cuhk(tmp_path):
    top = write_cuhk(str(tmp_path), 'CUHK-CR2', {'train': 2, 'test': 3}, size=16)
    return osp.join(top, 'CUHK-CR2')


def truncate(path):
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])


def test_read_error_from_a_loader_worker_names_the_file(cuhk):
    bad = osp.join(cuhk, 'test', 'cloud', '2.png')
    truncate(bad)
    with pytest.raises(Exception) as caught:
        next(iter(DataLoader(ReadsAPNG(bad), num_workers=1)))
    assert 'Original Traceback' in str(caught.value)   # what torch re-raises in the parent
    message = read_error_message(caught.value)
    assert message.startswith(f'cannot decode {bad!r}') and 'Traceback' not in message
    assert read_error_message(ImageReadError('x.png is bad')) == 'x.png is bad'
    assert read_error_message(RuntimeError('CUDA out of memory')) is None
    assert read_error_message(ValueError('ImageReadError')) is None


def test_damaged_samples_are_found_and_excluded(cuhk):
    truncate(osp.join(cuhk, 'test', 'label', '3.png'))
    dataset = CUHKCRDataset(cuhk, split='test', use_nir=False, pipeline=[LOAD])
    require_complete(dataset)                        # nothing missing: only a damaged file
    before = snapshot(osp.dirname(cuhk))
    (bad, ) = find_unreadable(dataset)
    assert snapshot(osp.dirname(cuhk)) == before, 'the pre-read must not write into the root'
    assert bad['sample_id'] == '3' and '3.png' in bad['reason']
    kept = CUHKCRDataset(cuhk, split='test', use_nir=False, exclude_ids=['3'])
    assert [i['sample_id'] for i in kept.data_list] == ['2', '4']
    assert kept.skipped == [dict(sample_id='3', reason='excluded (exclude_ids)')]


def test_skipped_samples_refused_unless_allowed(cuhk):
    dataset = CUHKCRDataset(cuhk, split='test', use_nir=False)
    dataset.skipped = [dict(sample_id='7', reason='no label image in /x/label')]
    with pytest.raises(IncompleteDatasetError, match=r"(?s)1 sample.*7: no label.*"
                                                     r"--allow-incomplete"):
        require_complete(dataset)
    require_complete(dataset, allow_incomplete=True)


def test_nothing_left_names_the_root(cuhk, tmp_path):
    empty = tmp_path / 'empty'
    for role in ('cloud', 'label'):
        (empty / 'test' / role).mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=re.escape(f'no samples were found under {str(empty)!r}')):
        CUHKCRDataset(str(empty), split='test', use_nir=False)
    with pytest.raises(DatasetLayoutError, match=r'all 3 samples under .* are excluded'):
        CUHKCRDataset(cuhk, split='test', use_nir=False, exclude_ids=['2', '3', '4'])
