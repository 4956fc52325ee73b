"""tools/model_converters/convert_dsen2cr.py: strict, by-name conversion of the official
Keras .hdf5 (ameraner/dsen2-cr) to a DSen2CRRestorer checkpoint.

The official release is a Keras 2.2.4 file whose Conv2D layers are ``conv2d_1`` ...
``conv2d_34`` (B = 16); the name table is checked on that naming, generated here. The
file path is exercised on ``tests/data/dsen2cr/official_keras_tiny.h5``, written by Keras
from the official model (B = 2, F = 4; Keras 3 names ``conv2d`` ... ``conv2d_5``).
"""
import importlib.util
import os.path as osp
from collections import OrderedDict

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'dsen2_cr', 'dsen2_cr_sen12mscr.py')
FIXTURES = osp.join(REPO, 'tests', 'data', 'dsen2cr')


@pytest.fixture(scope='module')
def conv():
    spec = importlib.util.spec_from_file_location(
        'crbench_convert_dsen2cr', osp.join(REPO, 'tools', 'model_converters', 'convert_dsen2cr.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras2_layers(num_blocks=16, features=3, cin=15, cout=13, start=1):
    """The weight layers of a Keras-2 DSen2-CR in model order, with its auto names."""
    rng = np.random.default_rng(0)
    shapes = [(cin, features)] + [(features, features)] * (2 * num_blocks) + [(features, cout)]
    layers = OrderedDict(input_1={}, input_2={}, concatenate_1={})
    for i, (ci, co) in enumerate(shapes):
        layers[f'conv2d_{start + i}'] = {'kernel': rng.normal(size=(3, 3, ci, co)).astype('float32'),
                                         'bias': rng.normal(size=co).astype('float32')}
        layers[f'activation_{i + 1}'] = {}
    return layers


def test_name_table_of_the_released_keras2_file(conv):
    layers = keras2_layers()
    state, table = conv.map_keras_layers(layers, num_blocks=16)
    assert table[0] == ('conv2d_1', 'head')
    assert table[1] == ('conv2d_2', 'blocks.0.conv1') and table[2] == ('conv2d_3', 'blocks.0.conv2')
    assert table[-1] == ('conv2d_34', 'tail') and len(state) == 68
    kernel = layers['conv2d_5']['kernel']   # blocks.1.conv2: H x W x in x out -> out x in x H x W
    w = state['generator.blocks.1.conv2.weight']
    assert w.shape == (3, 3, 3, 3) and float(w[2, 1, 0, 2]) == float(kernel[0, 2, 1, 2])
    # counter order, not string order: conv2d_10 follows conv2d_9
    assert dict(table)['conv2d_10'] == 'blocks.4.conv1'


def test_strict_refusals(conv):
    with pytest.raises(conv.ConversionError, match='has 34'):
        conv.map_keras_layers(keras2_layers(num_blocks=15), num_blocks=16)
    layers = keras2_layers(num_blocks=1)
    layers['batch_normalization_1'] = {'gamma': np.ones(3), 'beta': np.zeros(3)}
    with pytest.raises(conv.ConversionError, match='not Conv2D'):
        conv.map_keras_layers(layers, num_blocks=1)
    swapped = keras2_layers(num_blocks=1)
    names = list(swapped)
    reordered = OrderedDict((k, swapped[k]) for k in names[:3] + names[5:7] + names[3:5] + names[7:])
    with pytest.raises(conv.ConversionError, match='counter order'):
        conv.map_keras_layers(reordered, num_blocks=1)


def test_cli_converts_the_keras_file_into_the_config_model(conv, tmp_path):
    pytest.importorskip('h5py')
    out = tmp_path / 'dsen2cr.pth'
    options = ['model.generator.num_blocks=2', 'model.generator.features=4']
    src = osp.join(FIXTURES, 'official_keras_tiny.h5')
    assert conv.main([CONFIG, src, str(out), '--cfg-options', *options]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt['meta']['official_repo'] == 'ameraner/dsen2-cr'
    assert ckpt['meta']['source_format'] == 'dsen2cr_keras_hdf5'
    assert ckpt['meta']['name_table']['conv2d'] == 'head'
    from mmengine.config import Config

    import crbench.models  # noqa: F401
    from crbench.registry import MODELS
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'model.generator.num_blocks': 2, 'model.generator.features': 4})
    MODELS.build(cfg.model).load_state_dict(ckpt['state_dict'], strict=True)
    # the default config (B = 16, F = 256) refuses it, naming the cause
    assert conv.main([CONFIG, src, str(tmp_path / 'x.pth')]) == 2
    assert not (tmp_path / 'x.pth').exists()
    # not an HDF5 file
    bad = tmp_path / 'bad.hdf5'
    bad.write_bytes(b'not hdf5')
    assert conv.main([CONFIG, str(bad), str(tmp_path / 'y.pth')]) == 2


def test_cli_refuses_a_mistyped_override_and_a_config_of_another_model(conv, tmp_path, capsys):
    src = osp.join(FIXTURES, 'official_keras_tiny.h5')
    assert conv.main([CONFIG, src, str(tmp_path / 'x.pth'), '--cfg-options',
                      'model.generator.featurez=4']) == 2
    assert 'featurez' in capsys.readouterr().err
    other = osp.join(REPO, 'configs', 'diffcr', 'diffcr_sen2mtc_new.py')
    assert conv.main([other, src, str(tmp_path / 'x.pth')]) == 2
    assert 'not DSen2CRRestorer' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
