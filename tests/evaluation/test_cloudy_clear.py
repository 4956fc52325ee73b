"""Cloudy-pixel / clear-pixel errors from a ground-truth cloud mask (RICE2)."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config

from crbench.datasets.synthetic import write_rice
from crbench.evaluation.metric import CRMetric, cloudy_clear_errors
from crbench.registry import DATASETS


def test_errors_match_numpy():
    g = torch.Generator().manual_seed(0)
    pred, gt = torch.rand(3, 8, 8, generator=g) * 2 - 1, torch.rand(3, 8, 8, generator=g) * 2 - 1
    mask = (torch.rand(1, 8, 8, generator=g) > 0.6).float()
    row = cloudy_clear_errors(pred, gt, mask)
    d = ((pred.numpy() - gt.numpy()) / 2).astype(np.float64)
    m = np.broadcast_to(mask.numpy() > 0.5, d.shape)
    assert np.isclose(row['RMSE_cloudy'], np.sqrt((d[m] ** 2).mean()))
    assert np.isclose(row['MAE_clear'], np.abs(d[~m]).mean())
    empty = cloudy_clear_errors(pred, gt, torch.zeros(1, 8, 8))
    assert np.isnan(empty['RMSE_cloudy']) and not np.isnan(empty['RMSE_clear'])


def test_rice2_test_split_reports_cloudy_and_clear(repo_root, tmp_path):
    root = write_rice(str(tmp_path), counts={2: 5}, size=32)
    cfg = Config.fromfile(osp.join(repo_root, 'configs/_base_/datasets/rice2.py'))
    cfg.test_dataloader.dataset.data_root = root
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = CRMetric(protocol='cuhk_official')
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        assert sample.mask.shape == (1, 16, 16)
        assert set(sample.mask.unique().tolist()) <= {0.0, 1.0}
        sample.pred = sample.gt.clone() * 0.5
        metric.process(None, [sample.to_dict()])
    result = metric.compute_metrics(metric.results)
    assert {'RMSE_cloudy', 'MAE_cloudy', 'RMSE_clear', 'MAE_clear'} <= set(result)
