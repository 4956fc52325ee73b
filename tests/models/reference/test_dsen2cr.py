"""DSen2CR network: parameter counts of the official builds, and the official Keras outputs.

The fixture ``tests/data/dsen2cr/official_keras_tiny.h5`` is the official Keras model
(ameraner/dsen2-cr ``DSen2CR_model``, B = 2, F = 4, with SAR) built and saved by Keras
(weights only) with random weights; ``official_keras_tiny_io.npz`` holds a fixed input
and the output Keras computed for it. Loading the weights by the converter's name table
must reproduce that output.
"""
import os.path as osp

import numpy as np
import pytest
import torch

from crbench.models.reference.dsen2cr import DSen2CR

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
FIXTURES = osp.join(REPO, 'tests', 'data', 'dsen2cr')


@pytest.mark.parametrize('kwargs, official', [
    # Keras model.count_params() of the official DSen2CR_model, B = 16, F = 256
    (dict(optical_channels=13, sar_channels=2), 18_947_341),     # SEN12MS-CR, with SAR
    (dict(optical_channels=13, sar_channels=0), 18_942_733),     # include_sar_input=False
    (dict(optical_channels=3, sar_channels=0), 18_896_643),      # Sen2_MTC_New, RGB only
])
def test_parameter_count_matches_the_official_build(kwargs, official):
    with torch.device('meta'):
        net = DSen2CR(num_blocks=16, features=256, **kwargs)
    assert sum(p.numel() for p in net.parameters()) == official


def test_outputs_match_the_official_keras_model():
    pytest.importorskip('h5py')
    from crbench.converters import dsen2cr as conv
    layers = conv.read_keras_h5(osp.join(FIXTURES, 'official_keras_tiny.h5'))
    state, table = conv.map_keras_layers(layers, num_blocks=2, prefix='')
    assert [k for k, _ in table] == ['conv2d'] + [f'conv2d_{i}' for i in range(1, 6)]
    net = DSen2CR(13, 2, num_blocks=2, features=4).eval()
    net.load_state_dict(state, strict=True)
    io = np.load(osp.join(FIXTURES, 'official_keras_tiny_io.npz'))
    with torch.no_grad():
        out = net(torch.from_numpy(io['optical']), torch.from_numpy(io['sar'])).numpy()
    assert np.abs(out - io['output']).max() <= 1e-5
    # and the check can fail: without the residual scaling the output moves
    net.blocks[0].residual_scale = 1.0
    with torch.no_grad():
        moved = net(torch.from_numpy(io['optical']), torch.from_numpy(io['sar'])).numpy()
    assert np.abs(moved - io['output']).max() > 1e-3


def test_long_skip_returns_the_cloudy_image_when_the_tail_is_zero():
    net = DSen2CR(4, 2, num_blocks=1, features=8)
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    optical, sar = torch.rand(2, 4, 6, 6), torch.rand(2, 2, 6, 6)
    assert torch.equal(net(optical, sar), optical)


def test_bad_inputs_name_the_setting():
    net = DSen2CR(13, 2, num_blocks=1, features=4)
    with pytest.raises(ValueError, match='optical_channels'):
        net(torch.rand(1, 3, 8, 8), torch.rand(1, 2, 8, 8))
    with pytest.raises(ValueError, match='sar_channels=2'):
        net(torch.rand(1, 13, 8, 8))
    with pytest.raises(ValueError, match='without SAR'):
        DSen2CR(13, 0, num_blocks=1, features=4)(torch.rand(1, 13, 8, 8), torch.rand(1, 2, 8, 8))


def test_metafile_matches_configs_and_reported_numbers():
    import csv

    import yaml
    from mmengine.config import Config

    from crbench.registry import MODELS
    meta = yaml.safe_load(open(osp.join(REPO, 'configs', 'dsen2_cr', 'metafile.yml')))
    rows = [r for r in csv.DictReader(open(osp.join(REPO, 'leaderboard', 'reported.csv')))
            if r['model'] == 'dsen2_cr']
    reported = {(r['dataset'], r['source'], r['table'], r['metric']): float(r['value'])
                for r in rows}
    seen = set()
    assert [m['Name'] for m in meta['Models']] == ['dsen2_cr_sen12mscr', 'dsen2_cr_sen2mtc_new']
    for entry in meta['Models']:
        cfg = Config.fromfile(osp.join(REPO, entry['Config']))
        assert cfg.model_name == 'dsen2_cr'
        assert entry['Metadata']['Iterations'] == cfg.train_cfg.max_iters
        assert entry['Metadata']['Batch Size'] == cfg.train_dataloader.batch_size
        with torch.device('meta'):
            net = MODELS.build(cfg.model.generator)
        assert entry['Metadata']['Parameters'] == sum(p.numel() for p in net.parameters())
        for result in entry['Results']:
            assert result['Dataset'] == entry['Metadata']['Training Data']
            for metric, value in result['Metrics'].items():
                key = (result['Dataset'], result['Paper'], result['Table'], metric)
                assert reported[key] == value, key
                seen.add(key)
    assert seen == set(reported)   # every reported number is in the metafile
