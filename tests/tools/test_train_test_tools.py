"""tools/train.py and tools/test.py as a user runs them."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from crbench.datasets.synthetic import write_cuhk

TINY = ['model.generator.n_feat=8', 'model.generator.scale_unetfeats=4',
        'model.generator.scale_orsnetfeats=4', 'model.generator.num_cab=1']


def run_tool(repo_root, *args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='1')  # one thread per process on 2-core machines
    return subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_train_without_data_names_path_and_layout(repo_root, tmp_path):
    missing = str(tmp_path / 'no_such_dataset' / 'CUHK-CR2')
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', str(tmp_path / 'w'), '--data-root', missing)
    assert out.returncode == 2
    assert missing in out.stderr and 'Expected layout' in out.stderr
    assert 'nir/' in out.stderr and 'Traceback' not in out.stderr


def test_default_data_root_missing_is_explained(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'data/C-CUHK/CUHK-CR2' in out.stderr


def test_misspelt_config_key_is_refused(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--cfg-options', 'optim_wraper.optimizer.lr=1', '--work-dir',
                   str(tmp_path / 'w'))
    assert out.returncode == 2
    assert "'optim_wraper'" in out.stderr and 'optim_wrapper' in out.stderr


def test_unknown_registry_name_is_refused(repo_root, tmp_path):
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--cfg-options', 'model.generator.type=MemoryNett', '--work-dir',
                   str(tmp_path / 'w'))
    assert out.returncode == 2
    assert 'MemoryNett' in out.stderr and "'MemoryNet'" in out.stderr


@pytest.mark.slow
def test_train_then_test_writes_a_synthetic_result(repo_root, tmp_path):
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 2}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    work = str(tmp_path / 'work')
    common = ['--data-root', data_root, '--cfg-options', *TINY,
              'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
              'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    out = run_tool(repo_root, 'tools/train.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                   '--work-dir', work, *common, 'train_cfg.max_iters=2',
                   'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    checkpoint = osp.join(work, 'iter_2.pth')
    results = str(tmp_path / 'results')
    for _ in range(2):  # a re-run replaces its own result file
        out = run_tool(repo_root, 'tools/test.py', 'configs/memorynet/memorynet_cuhkcr2.py',
                       checkpoint, '--work-dir', str(tmp_path / 'test'), '--results-dir',
                       results, '--save-images', str(tmp_path / 'vis'), *common)
        assert out.returncode == 0, out.stderr[-3000:]
    files = glob.glob(osp.join(results, '*.json'))
    assert len(files) == 1
    record = json.load(open(files[0]))
    assert record['synthetic'] is True and record['dataset'] == 'CUHK-CR2'
    assert record['protocol'] == 'cuhk_official' and record['n_images'] == 2
    assert set(record['metrics']) >= {'PSNR', 'SSIM', 'RMSE'}
    assert 'LPIPS' not in record['metrics'] and 'LPIPS' in record['unavailable_metrics']
    assert len(record['checkpoint_sha256']) == 64
    assert len(glob.glob(str(tmp_path / 'vis' / '*.png'))) == 2

    board = str(tmp_path / 'board')
    out = run_tool(repo_root, 'tools/leaderboard.py', '--results-dir', results, '--out-dir',
                   board, '--show-synthetic', '--no-html')
    assert out.returncode == 0, out.stderr[-3000:]
    text = open(osp.join(board, 'README.md')).read()
    synthetic_part = text.split('synthetic)', 1)
    assert len(synthetic_part) == 2 and record['run_id'] in synthetic_part[1]
    assert record['run_id'] not in synthetic_part[0]


def test_random_backbone_lpips_is_never_recorded():
    from crbench.results import InvalidResultError, build_record
    with pytest.raises(InvalidResultError, match='random'):
        build_record(model='m', config='c', dataset='CUHK-CR2', split='test',
                     protocol='cuhk_official', metrics={'LPIPS_RANDOM_BACKBONE_TEST_ONLY': 0.1},
                     n_images=1, checkpoint=None, synthetic=True)


# ---------------------------------------------------------------- provenance, bad inputs
TINY_OPTS = {'model.generator.n_feat': 8, 'model.generator.scale_unetfeats': 4,
             'model.generator.scale_orsnetfeats': 4, 'model.generator.num_cab': 1}
CONVERSION = {'source_format': 'unit-test fixture', 'converter': 'none', 'band_order': 'RGB'}


def load_tool(repo_root, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'tool_{name}',
                                                  osp.join(repo_root, 'tools', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options(extra=()):
    opts = [f'{k}={v}' for k, v in TINY_OPTS.items()]
    for loader in ('train', 'val', 'test'):
        opts += [f'{loader}_dataloader.num_workers=0',
                 f'{loader}_dataloader.persistent_workers=False']
    return opts + list(extra)


def tiny_checkpoint(repo_root, config, path):
    """Weights of the tiny network with a converter-style ``meta``, as a converter writes."""
    import torch
    from crbench.apis import load_config
    from crbench.registry import MODELS
    cfg = load_config(osp.join(repo_root, config), dict(TINY_OPTS))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {'crbench_conversion': CONVERSION}},
               path)
    return path


def run_test(repo_root, tmp_path, config, data_root, checkpoint, *extra, cfg_options=()):
    argv = [config, checkpoint, '--work-dir', str(tmp_path / 'test_work'), '--data-root',
            data_root, '--results-dir', str(tmp_path / 'results'), *extra,
            '--cfg-options', *options(cfg_options)]
    return load_tool(repo_root, 'test').main(argv)


def tool_message(err, tool='test'):
    """The tool's own message (an in-process run may also log noise from earlier runs'
    MMEngine loggers; an uncaught exception would have failed the test already)."""
    assert f'crbench {tool}: ' in err, err[-2000:]
    return err.rsplit(f'crbench {tool}: ', 1)[1]


def truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.fixture
def rice2(tmp_path):
    from crbench.datasets.synthetic import write_rice
    return write_rice(str(tmp_path / 'data'), counts={2: 15}, size=32)  # 12 / 3


@pytest.mark.slow
def test_incomplete_test_split_exits_2_unless_allowed(repo_root, tmp_path, rice2, capsys):
    from crbench.datasets import RICEDataset
    config = 'configs/memorynet/memorynet_rice2.py'
    checkpoint = tiny_checkpoint(repo_root, config, str(tmp_path / 'w.pth'))
    test_ids = [i['sample_id'] for i in RICEDataset(rice2, version=2, split='test').data_list]
    os.remove(osp.join(rice2, 'RICE2', 'label', f'{test_ids[0]}.png'))   # a missing label
    truncate(osp.join(rice2, 'RICE2', 'cloud', f'{test_ids[1]}.png'))     # a damaged image

    assert run_test(repo_root, tmp_path, config, rice2, checkpoint) == 2
    err = tool_message(capsys.readouterr().err)
    assert 'incomplete' in err and f'{test_ids[0]}: no label image' in err
    assert '--allow-incomplete' in err
    assert not osp.exists(tmp_path / 'results')

    assert run_test(repo_root, tmp_path, config, rice2, checkpoint, '--allow-incomplete') == 0
    (path, ) = glob.glob(str(tmp_path / 'results' / '*.json'))
    record = json.load(open(path))
    skipped = record['provenance']['skipped']
    assert record['incomplete'] is True and skipped['n'] == 2
    assert sorted(skipped['ids']) == sorted(test_ids[:2])
    assert f'{test_ids[1]}.png' in skipped['reasons'][test_ids[1]]        # names the file
    assert record['n_images'] == len(test_ids) - 2
    # the converter's metadata is recorded as found in the checkpoint, with what the strict
    # loader loaded
    assert record['provenance']['checkpoint'] == {'source_format': 'converted',
                                                  'conversion': CONVERSION,
                                                  'loaded': 'all weights'}


@pytest.mark.slow
def test_damaged_png_in_test_and_train_exits_2_naming_it(repo_root, tmp_path, rice2, capsys):
    from crbench.datasets import RICEDataset
    config = 'configs/memorynet/memorynet_rice2.py'
    checkpoint = tiny_checkpoint(repo_root, config, str(tmp_path / 'w.pth'))
    test_id = RICEDataset(rice2, version=2, split='test').data_list[0]['sample_id']
    train_id = RICEDataset(rice2, version=2, split='train').data_list[0]['sample_id']
    bad_test = osp.join(rice2, 'RICE2', 'label', f'{test_id}.png')
    bad_train = osp.join(rice2, 'RICE2', 'cloud', f'{train_id}.png')
    truncate(bad_test)
    truncate(bad_train)
    assert run_test(repo_root, tmp_path, config, rice2, checkpoint) == 2
    err = tool_message(capsys.readouterr().err)
    assert bad_test in err and 'cannot be read' in err
    assert not osp.exists(tmp_path / 'results')

    train = load_tool(repo_root, 'train').main(
        [config, '--work-dir', str(tmp_path / 'train_work'), '--data-root', rice2,
         '--cfg-options', *options(['train_cfg.max_iters=20', 'train_dataloader.batch_size=8'])])
    assert train == 2 and bad_train in tool_message(capsys.readouterr().err, 'train')


@pytest.mark.slow
def test_twelve_band_geotiff_exits_2_naming_it(repo_root, tmp_path, capsys):
    import numpy as np
    import rasterio
    from crbench.datasets import SEN12MSCRDataset
    from crbench.datasets.synthetic import write_sen12mscr
    root = write_sen12mscr(str(tmp_path / 'data'), patches_per_scene=1, size=16)
    config = 'configs/memorynet/memorynet_sen12mscr.py'
    checkpoint = tiny_checkpoint(repo_root, config, str(tmp_path / 'w.pth'))
    bad = SEN12MSCRDataset(root, split='test').data_list[0]['gt_path']
    bad_train = SEN12MSCRDataset(root, split='train').data_list[0]['cloudy_path']
    for path in (bad, bad_train):
        with rasterio.open(path) as src:
            profile, data = src.profile, src.read()
        profile.update(count=12)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(data[:12].astype(np.uint16))
    assert run_test(repo_root, tmp_path, config, root, checkpoint) == 2
    err = tool_message(capsys.readouterr().err)
    assert bad in err and 'has 12 band(s) but 13' in err
    train = load_tool(repo_root, 'train').main(
        [config, '--work-dir', str(tmp_path / 'train_work'), '--data-root', root,
         '--cfg-options', *options(['train_cfg.max_iters=20', 'train_dataloader.batch_size=4'])])
    assert train == 2 and bad_train in tool_message(capsys.readouterr().err, 'train')


def test_rice_split_files_with_unknown_ids_or_none_exit_2(repo_root, tmp_path, rice2, capsys):
    train = load_tool(repo_root, 'train')
    for text, expected in (('999\n1000\n', 'have no image on disk'),
                           ('# nothing\n', 'lists no ids')):
        listing = tmp_path / 'split.txt'
        listing.write_text(text)
        status = train.main(['configs/memorynet/memorynet_rice2.py', '--work-dir',
                             str(tmp_path / 'w'), '--data-root', rice2, '--cfg-options',
                             f'train_dataloader.dataset.split_file={listing}'])
        err = tool_message(capsys.readouterr().err, 'train')
        assert status == 2 and str(listing) in err and expected in err
    status = train.main(['configs/memorynet/memorynet_rice2.py', '--work-dir', str(tmp_path / 'w'),
                         '--data-root', rice2, '--cfg-options',
                         'val_dataloader.dataset.split=vall'])
    assert status == 2 and "'vall'" in tool_message(capsys.readouterr().err, 'train')


@pytest.mark.slow
def test_test_only_data_root_and_provenance(repo_root, tmp_path, capsys):
    import shutil

    from crbench.evaluation.compare import main as compare
    from crbench.results import dataset_fingerprint, read_per_image
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 4}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    for tree in (data_root, osp.join(top, 'nir', 'CUHK-CR2')):
        shutil.rmtree(osp.join(tree, 'train'))          # a copy of the test split only
    config = 'configs/memorynet/memorynet_cuhkcr2.py'
    checkpoint = tiny_checkpoint(repo_root, config, str(tmp_path / 'w.pth'))
    assert run_test(repo_root, tmp_path, config, data_root, checkpoint) == 0
    # the same run with one more override is another run, with its own file
    assert run_test(repo_root, tmp_path, config, data_root, checkpoint,
                    cfg_options=['test_dataloader.batch_size=2']) == 0
    paths = sorted(glob.glob(str(tmp_path / 'results' / '*.json')), key=os.path.getmtime)
    assert len(paths) == 2
    first, second = (json.load(open(p)) for p in paths)
    assert first['run_id'] != second['run_id']
    assert second['provenance']['cfg_options']['test_dataloader.batch_size'] == 2
    prov = first['provenance']
    assert prov['variant'] is True and 'model' in prov['variant_reasons'][0]
    assert prov['cfg_options']['model.generator.n_feat'] == 8
    config_copy = osp.join(osp.dirname(paths[0]), prov['config']['path'])
    from crbench.engine.compat import file_sha256
    assert file_sha256(config_copy) == prov['config']['sha256']
    assert 'n_feat=8' in open(config_copy).read().replace(' ', '')
    from crbench.datasets import CUHKCRDataset
    test_set = CUHKCRDataset(data_root, split='test')
    assert prov['dataset_fingerprint'] == dataset_fingerprint(test_set)
    assert prov['dataset_fingerprint']['n_files'] == 16          # 4 samples x 4 files
    assert prov['skipped'] == {'n': 0, 'ids': [], 'reasons': {}} and not first['incomplete']
    table = read_per_image(first, paths[0])                       # checks the sha256
    assert sorted(table['sample_id']) == sorted(i['sample_id'] for i in test_set.data_list)
    for name, value in first['metrics'].items():
        assert value == pytest.approx(table[name].mean(), abs=1e-9)
        lo, hi = first['metrics_ci95'][name]
        assert lo <= value <= hi

    capsys.readouterr()
    assert compare([paths[0], paths[1]]) == 0
    out = capsys.readouterr().out
    assert 'PSNR' in out and '4 images scored by both' in out
    other = dict(first, dataset='CUHK-CR1')
    other_path = str(tmp_path / 'results' / 'other.json')
    json.dump(other, open(other_path, 'w'))
    assert compare([paths[0], other_path]) == 2
    err = capsys.readouterr().err
    assert "dataset: 'CUHK-CR2' vs 'CUHK-CR1'" in err and 'not comparable' in err
    with open(osp.join(osp.dirname(paths[0]), first['per_image']['path']), 'a') as f:
        f.write('99,1,1,1\n')                                    # changed after the run
    assert compare([paths[0], paths[1]]) == 2
    assert 'sha256' in capsys.readouterr().err
