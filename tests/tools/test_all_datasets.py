"""Every dataset end to end: synthetic copy -> config -> batch -> MemoryNet -> results JSON.

The configs are the repository's own ``configs/memorynet/memorynet_<dataset>.py``;
only the network width, the schedule and the loader workers are made tiny.
"""
import glob
import importlib.util
import json
import os.path as osp

import pytest
import rasterio
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from crbench.datasets import synthetic

# dataset key -> (writer returning data_root, bands in, bands out, protocol, value range)
DATASETS = {
    'cuhkcr1': (lambda d: osp.join(synthetic.write_cuhk(d, 'CUHK-CR1', {'train': 2, 'test': 2},
                                                        size=32), 'CUHK-CR1'),
                4, 4, 'cuhk_official'),
    'cuhkcr2': (lambda d: osp.join(synthetic.write_cuhk(d, 'CUHK-CR2', {'train': 2, 'test': 2},
                                                        size=32), 'CUHK-CR2'),
                4, 4, 'cuhk_official'),
    'rice1': (lambda d: synthetic.write_rice(d, counts={1: 5}, size=32), 3, 3, 'cuhk_official'),
    'rice2': (lambda d: synthetic.write_rice(d, counts={2: 5}, size=32), 3, 3, 'cuhk_official'),
    'sen12mscr': (lambda d: synthetic.write_sen12mscr(d, patches_per_scene=1, size=16),
                  13, 13, 'sen12mscr_official'),
    'sen2mtc_new': (lambda d: synthetic.write_sen2mtc(d, images_per_tile=1, size=16),
                    None, 3, 'sen2mtc_official'),
}
TINY_NET = dict(n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)


def load_tool(repo_root, name):
    spec = importlib.util.spec_from_file_location(name, osp.join(repo_root, 'tools', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_options(key):
    opts = {f'model.generator.{k}': v for k, v in TINY_NET.items()}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
        if key == 'rice1':  # synthetic ids are not the published 0..499 of the shipped split
            opts[f'{loader}.dataset.split_file'] = None
    opts.update({'train_dataloader.batch_size': 2, 'train_cfg.max_iters': 2,
                 'train_cfg.val_interval': 2, 'default_hooks.checkpoint.interval': 2,
                 'default_hooks.checkpoint.save_best': None})
    return opts


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(DATASETS))
def test_dataset_end_to_end(key, repo_root, tmp_path):
    writer, bands_in, bands_out, protocol = DATASETS[key]
    data_root = writer(str(tmp_path / 'data'))
    config = osp.join(repo_root, f'configs/memorynet/memorynet_{key}.py')
    from crbench.apis import prepare_config
    cfg = prepare_config(config, str(tmp_path / 'work'), data_root,
                         tiny_options(key))

    runner = Runner.from_cfg(cfg)
    batch = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    cloudy = torch.stack(list(batch['inputs']['cloudy']))
    gt = torch.stack([s.gt for s in batch['data_samples']])
    assert gt.shape[1] == bands_out and cloudy.shape[-2:] == gt.shape[-2:]
    if bands_in is not None:
        assert cloudy.shape[1] == bands_in
    assert -1.5 < float(gt.min()) and float(gt.max()) < 1.5 and torch.isfinite(cloudy).all()
    assert batch['data_samples'][0].metainfo['synthetic'] is True
    runner.train()

    test_tool = load_tool(repo_root, 'test')
    results = str(tmp_path / 'results')
    argv = [config, osp.join(cfg.work_dir, 'iter_2.pth'), '--work-dir', str(tmp_path / 't'),
            '--data-root', data_root, '--results-dir', results,
            '--save-preds', str(tmp_path / 'preds'), '--cfg-options']
    argv += [f'{k}={v}' for k, v in tiny_options(key).items()]
    assert test_tool.main(argv) == 0
    (path, ) = glob.glob(osp.join(results, '*.json'))
    record = json.load(open(path))
    assert record['protocol'] == protocol and record['synthetic'] is True
    expected = {'PSNR', 'SSIM', 'RMSE'} | ({'MAE', 'SAM'} if 'sen' in key else set())
    assert expected <= set(record['metrics'])

    if key == 'sen12mscr':  # geo-referenced predictions keep the source grid
        for pred_path in glob.glob(str(tmp_path / 'preds' / '*.tif')):
            sample_id = osp.splitext(osp.basename(pred_path))[0]
            roi, season, scene, patch = sample_id.split('_')
            source = osp.join(data_root, f'{roi}_{season}_s2', f's2_{scene}',
                              f'{roi}_{season}_s2_{scene}_{patch}.tif')
            with rasterio.open(pred_path) as pred, rasterio.open(source) as src:
                assert pred.crs == src.crs and pred.transform == src.transform
                assert pred.count == 13 and pred.dtypes[0] == 'uint16'
    assert glob.glob(str(tmp_path / 'preds' / '*'))
