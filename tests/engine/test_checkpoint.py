"""crbench.engine.checkpoint: strict loading for testing, inference and frozen priors."""
import json
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from crbench.engine.checkpoint import (WeightsMismatchError, apply_input_conventions,
                                       load_network_weights, load_weights)
from crbench.registry import MODELS
from crbench.setup_env import register_all_modules

register_all_modules()

GAN = dict(type='GANRestorer',
           generator=dict(type='SpAGANGenerator', in_channels=3, out_channels=3),
           discriminator=dict(type='PatchDiscriminator', in_channels=3, out_channels=3),
           pixel_losses=dict(l1=dict(type='L1Loss')), network_range=(0.0, 1.0))


def build(**overrides):
    return MODELS.build(dict(GAN, **overrides))


def save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_full_checkpoint_loads_and_every_tensor_arrives(tmp_path):
    source, target = build(), build()
    meta = load_weights(target, save({'state_dict': source.state_dict()}, tmp_path / 'a.pth'))
    assert meta['loaded'] == 'all weights'
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_generator_only_checkpoint_is_accepted_explicitly(tmp_path):
    source, target = build(), build()
    gen_only = OrderedDict((k, v) for k, v in source.state_dict().items()
                           if k.startswith('generator.'))
    path = save({'state_dict': gen_only, 'meta': {}}, tmp_path / 'g.pth')
    meta = load_weights(target, path)
    assert meta['loaded'].startswith('generator only (discriminator absent')
    assert torch.equal(target.generator.conv_in.weight, source.generator.conv_in.weight)
    with pytest.raises(WeightsMismatchError, match='discriminator'):
        load_weights(build(), path, generator_only_ok=False)
    # a partial discriminator is not "generator only"
    partial = OrderedDict(gen_only)
    first_dis = next(k for k in source.state_dict() if k.startswith('discriminator.'))
    partial[first_dis] = source.state_dict()[first_dis]
    with pytest.raises(WeightsMismatchError, match='missing'):
        load_weights(build(), save({'state_dict': partial}, tmp_path / 'p.pth'))


def test_mismatches_list_the_keys(tmp_path):
    sd = build().state_dict()
    sd['generator.extra.weight'] = torch.zeros(1)
    del sd['generator.conv_out.weight']
    with pytest.raises(WeightsMismatchError) as err:
        load_weights(build(), save({'state_dict': sd}, tmp_path / 'x.pth'))
    text = str(err.value)
    assert "1 missing ('generator.conv_out.weight')" in text
    assert "1 unexpected ('generator.extra.weight')" in text
    assert 'tools/model_converters/' in text
    sd = build().state_dict()
    sd['generator.conv_out.weight'] = torch.zeros(5, 32, 3, 3)
    with pytest.raises(WeightsMismatchError, match='shape mismatch.*conv_out'):
        load_weights(build(), save({'state_dict': sd}, tmp_path / 's.pth'))


def test_unconverted_official_file_names_its_converter(tmp_path):
    """A raw collection SpA-GAN file: nothing of it fits, and the message says how to
    convert it (the random generator it would otherwise test never runs)."""
    keys = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
                    'collection_official', 'state_dict_keys.json')
    with open(keys) as f:                   # names dumped from the official networks
        names = json.load(f)['spagan_generator']
    official = OrderedDict(zip(names, build().generator.state_dict().values()))
    path = save(official, tmp_path / 'gen_model_epoch_200.pth')
    with pytest.raises(WeightsMismatchError) as err:
        load_weights(build(), path)
    text = str(err.value)
    assert 'unconverted littlebeen/Cloud-removal-model-collection' in text
    assert f'convert_collection.py spagan {path} gen_model_epoch_200_crbench.pth' in text
    assert '(+' in text  # the key lists are shortened


def test_input_conventions_are_applied(tmp_path):
    model = build(network_range=(-1.0, 1.0))
    path = save({'state_dict': build().state_dict(),
                 'meta': {'input_conventions': {'band_order': 'RGB', 'value_range': [0, 1]}}},
                tmp_path / 'c.pth')
    meta = load_weights(model, path)
    assert model.range.as_tuple() == (0.0, 1.0) and 'replaced' in meta['applied']
    with pytest.raises(WeightsMismatchError, match='BGR'):
        apply_input_conventions(model, {'input_conventions': {'band_order': 'BGR'}}, 'f.pth')
    with pytest.raises(WeightsMismatchError, match='no network_range'):
        apply_input_conventions(torch.nn.Conv2d(1, 1, 1),
                                {'input_conventions': {'value_range': [0, 1]}}, 'f.pth')


def test_network_weights_for_a_frozen_prior(tmp_path):
    source = build()
    network = MODELS.build(GAN['generator'])
    # a framework checkpoint: the generator part is used, the discriminator is ignored
    load_network_weights(network, save({'state_dict': source.state_dict()}, tmp_path / 'f.pth'))
    assert torch.equal(network.conv_in.weight, source.generator.conv_in.weight)
    # other parts are not silently dropped
    sd = OrderedDict(source.state_dict())
    sd['ema.something'] = torch.zeros(1)
    with pytest.raises(WeightsMismatchError, match='ema.something'):
        load_network_weights(network, save({'state_dict': sd}, tmp_path / 'e.pth'))
    # nor are missing tensors
    sd = OrderedDict((k, v) for k, v in source.generator.state_dict().items()
                     if k != 'conv_out.weight')
    with pytest.raises(WeightsMismatchError, match='conv_out.weight'):
        load_network_weights(network, save(sd, tmp_path / 'm.pth'))


def test_source_resolution_is_noted_when_the_pipeline_resizes(tmp_path, capsys):
    from mmengine.config import Config
    meta = {'input_conventions': {'band_order': 'RGB', 'value_range': [0.0, 1.0],
                                  'training_resolution': 512}}
    path = save({'state_dict': build().state_dict(), 'meta': meta}, tmp_path / 'r.pth')
    resizing = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageBands'), dict(type='MatlabResize', scale=0.5)]))))
    loaded = load_weights(build(), path, cfg=resizing)
    assert any('trained at 512 px' in n and 'MatlabResize' in n for n in loaded['notes'])
    assert 'trained at 512 px' in capsys.readouterr().out
    native = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[dict(type='LoadImageBands')]))))
    assert 'notes' not in load_weights(build(), path, cfg=native)
