"""crbench/results.py: run ids, provenance and the files written beside a result."""
import hashlib
import json
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from crbench.apis import load_config
from crbench.datasets import CUHKCRDataset
from crbench.datasets.synthetic import write_cuhk
from crbench.results import (build_record, checkpoint_provenance, dataset_fingerprint,
                             read_per_image, variant_reasons, write_test_result)

CONFIG = 'configs/memorynet/memorynet_cuhkcr2.py'


def record(**provenance):
    return build_record(model='memorynet', config=CONFIG, dataset='CUHK-CR2', split='test',
                        protocol='cuhk_official', metrics={'PSNR': 20.0}, n_images=2,
                        checkpoint=None, synthetic=True, provenance=provenance or None)


def test_run_id_includes_the_overrides():
    plain = record(cfg_options={})
    tiny = record(cfg_options={'model.generator.n_feat': 8})
    tinier = record(cfg_options={'model.generator.n_feat': 4})
    assert len({plain['run_id'], tiny['run_id'], tinier['run_id']}) == 3
    assert record(cfg_options={'model.generator.n_feat': 8})['run_id'] == tiny['run_id']
    assert tiny['provenance']['cfg_options'] == {'model.generator.n_feat': 8}


def test_variant_detection(repo_root, tmp_path):
    config = osp.join(repo_root, CONFIG)
    assert variant_reasons(config, load_config(config), None) == []
    options = {'test_dataloader.num_workers': 0}                  # not a model/schedule change
    assert variant_reasons(config, load_config(config, options), options) == []
    options = {'model.generator.n_feat': 8}
    (reason, ) = variant_reasons(config, load_config(config, options), options)
    assert "['model']" in reason and 'model.generator.n_feat' in reason
    # weights trained with another schedule, tested without overrides
    trained = load_config(config, {'train_cfg.max_iters': 2})
    (reason, ) = variant_reasons(config, load_config(config), None, {'cfg': trained.pretty_text})
    assert 'checkpoint' in reason and 'train_cfg' in reason
    mine = tmp_path / 'my_memorynet.py'                         # a user's own config
    mine.write_text(f"_base_ = ['{config}']\n")
    assert variant_reasons(str(mine), Config.fromfile(str(mine)), None) == [
        f'{mine} is not a repository config (configs/)']


def test_checkpoint_provenance_reads_the_meta():
    conversion = {'source_format': 'Penn000 SpA-GAN', 'band_order': 'BGR'}
    assert checkpoint_provenance({'crbench_conversion': conversion}) == dict(
        source_format='converted', conversion=conversion)
    legacy = {'official_repo': 'x/y', 'generator_sha256': 'ab'}
    assert checkpoint_provenance(legacy) == dict(source_format='converted', conversion=legacy)
    trained = checkpoint_provenance({'cfg': 'model = dict()', 'iter': 4, 'seed': 0})
    assert trained == dict(source_format='crbench training', iter=4, seed=0)
    assert checkpoint_provenance({})['source_format'] == 'unknown'


def test_dataset_fingerprint_sees_paths_and_sizes(tmp_path):
    top = write_cuhk(str(tmp_path / 'a'), 'CUHK-CR2', {'train': 2, 'test': 2}, size=16)
    root = osp.join(top, 'CUHK-CR2')
    first = dataset_fingerprint(CUHKCRDataset(root, split='test'))
    copy = shutil.copytree(top, str(tmp_path / 'b' / 'C-CUHK'))
    moved = dataset_fingerprint(CUHKCRDataset(osp.join(copy, 'CUHK-CR2'), split='test'))
    assert moved == first and first['n_files'] == 8          # relative paths: same copy
    with open(osp.join(root, 'test', 'label', '2.png'), 'ab') as f:
        f.write(b'\0')
    changed = dataset_fingerprint(CUHKCRDataset(root, split='test'))
    assert changed['sha256'] != first['sha256'] and changed['total_bytes'] == first[
        'total_bytes'] + 1


def test_side_files_are_referenced_with_their_sha256(tmp_path):
    rec = record(cfg_options={})
    rows = [dict(sample_id='10', PSNR=21.0), dict(sample_id='2', PSNR=19.0)]
    path = write_test_result(rec, str(tmp_path), rows, "model = dict(type='X')\n")
    saved = json.load(open(path))
    csv = osp.join(tmp_path, saved['per_image']['path'])
    assert saved['per_image']['sha256'] == hashlib.sha256(open(csv, 'rb').read()).hexdigest()
    assert open(csv).readline().strip() == 'sample_id,PSNR'
    cfg_copy = osp.join(tmp_path, saved['provenance']['config']['path'])
    assert open(cfg_copy).read() == "model = dict(type='X')\n"
    table = read_per_image(saved, path)
    assert list(table['sample_id']) == ['10', '2'] and list(table['PSNR']) == [21.0, 19.0]
    with open(csv, 'a') as f:
        f.write('3,1\n')
    with pytest.raises(ValueError, match='sha256'):
        read_per_image(saved, path)
