"""CTGAN's networks: the official parameter count (meta device), shapes, the token axis, and
the converter on the official key names and shapes (tests/data/ctgan, read from the
official model's state_dict)."""
import json
import math
import os.path as osp

import pytest
import torch

from crbench.converters.common import ConversionError
from crbench.converters.ctgan import convert, convert_part, image_size_of, main
from crbench.models.reference.ctgan import (CTGANDiscriminator, CTGANFeatureExtractor,
                                            CTGANGenerator)

FIXTURE = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data',
                   'ctgan', 'official_state_dict_shapes_64px.json')


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_equal_the_official_build():
    # come880412/CTGAN built with torch.device('meta'): CTGAN_Generator(256),
    # CTGAN_Discriminator(), Feature_Extractor() (configs/ctgan/README.md)
    with torch.device('meta'):
        assert count(CTGANGenerator(image_size=256)) == 642_917_449
        assert count(CTGANDiscriminator()) == 2_844_609
        assert count(CTGANFeatureExtractor()) == 222_661


def official_state(part, seed=0):
    with open(FIXTURE) as f:
        shapes = json.load(f)[part]
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.randint(0, 5, s, generator=g) if k.endswith('num_batches_tracked')
                else torch.randn(s, generator=g)) for k, s in shapes.items()}


def test_parameter_count_equals_the_official_state_dict_at_64px():
    with open(FIXTURE) as f:
        shapes = json.load(f)
    for part, net in (('generator', CTGANGenerator(image_size=64)),
                      ('discriminator', CTGANDiscriminator())):
        buffers = ('running_mean', 'running_var', 'num_batches_tracked')
        official = sum(math.prod(s) for k, s in shapes[part].items() if not k.endswith(buffers))
        assert count(net) == official, part


@pytest.mark.parametrize('part', ['generator', 'discriminator'])
def test_converter_maps_every_official_key_by_name(part):
    state = official_state(part)
    out = convert_part(state, part)
    assert len(out) == len(state)
    values = {id(v) for v in out.values()}
    assert values == {id(v) for v in state.values()}  # each tensor used once
    if part == 'generator':
        pairs = {'transformer.comformer.attn.fn.rel_pos_emb.weight':
                 'conformer.attn.offset_embedding.weight',
                 'transformer.comformer.conv.net.4.conv.weight': 'conformer.conv.depthwise.weight',
                 'feature_extractor.bottle6.bottleneck.4.running_var':
                 'feature_extractor.blocks.5.4.running_var',
                 'feature_extractor.ASPP.convs.4.1.weight':
                 'feature_extractor.aspp.branches.4.proj.0.weight',
                 'model_final.7.bias': 'decoder.7.bias'}
        for official, ours in pairs.items():
            assert out[ours] is state[official]
        assert image_size_of(state) == 64
        net = CTGANGenerator(image_size=64)
    else:
        net = CTGANDiscriminator()
    net.load_state_dict(out, strict=True)


def test_converter_refuses_unknown_and_missing_keys():
    state = official_state('generator')
    state['transformer.comformer.attn.fn.extra.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError, match='attn.fn.extra'):
        convert_part(state, 'generator')
    state = official_state('generator')
    del state['model_final.1.running_mean']
    with pytest.raises(ConversionError, match='decoder.1.running_mean'):
        convert_part(state, 'generator')


def test_converter_command_line(tmp_path):
    gen, dis = tmp_path / 'G.pth', tmp_path / 'D.pth'
    torch.save(official_state('generator'), gen)
    torch.save(official_state('discriminator'), dis)
    out = tmp_path / 'out.pth'
    assert main([str(gen), str(out), '--discriminator', str(dis)]) == 0
    result = torch.load(out, weights_only=True)
    assert result['meta']['source_format'] == 'ctgan_official'
    assert result['meta']['input_conventions']['training_resolution'] == 64
    keys = set(result['state_dict'])
    assert {k.split('.')[0] for k in keys} == {'generator', 'discriminator'}
    assert main([str(tmp_path / 'missing.pth'), str(out)]) == 2
    assert main([str(dis), str(tmp_path / 'x.pth')]) == 2  # a D is not a generator
    assert convert(str(gen))['state_dict'].keys() <= keys


def test_generator_outputs_and_token_axis():
    torch.manual_seed(0)
    net = CTGANGenerator(image_size=16, heads=2, head_dim=4, ngf=4, aspp_hidden=4).eval()
    x = torch.randn(3, 12, 16, 16)
    image, maps, aux = net(x)
    assert image.shape == (3, 4, 16, 16) and len(maps) == len(aux) == 3
    assert maps[0].shape == (3, 1, 16, 16) and aux[0].shape == (3, 4, 16, 16)
    assert image.abs().max() <= 1 and all(((m >= 0) & (m <= 1)).all() for m in maps)
    # official token axis: a sample's output depends on the rest of its batch
    alone = net(x[:1])[0]
    assert not torch.allclose(alone, image[:1], atol=1e-6)
    net.token_axis = 'maps'  # the paper's reading: samples are independent
    assert torch.allclose(net(x[:1])[0], net(x)[0][:1], atol=1e-5)
    with pytest.raises(ValueError, match='3 dates on channels'):
        net(torch.randn(1, 8, 16, 16))
