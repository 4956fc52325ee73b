"""PMAA networks and the strict converter of official checkpoints.

Parameter counts are those of the official build (XavierJiezou/PMAA ``PMAA(32, 4)`` with its
batch norms replaced by instance norms as ``train_new.py`` does, ``Discriminator()``,
``FeatureExtractor()``), counted on the meta device. The official key names and shapes
(``data/pmaa_official_keys.txt``) were dumped from the official networks' ``state_dict()``.
"""
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from crbench.converters.common import ConversionError
from crbench.converters.pmaa import build_network, convert, convert_network
from crbench.models.reference.pmaa import PMAA, PMAADiscriminator, pmaa_teacher

KEYS = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'pmaa_official_keys.txt')
OFFICIAL_PARAMS = {'generator': 3_439_689, 'discriminator': 2_844_609, 'teacher': 222_661}


def official_state(role, seed=0):
    """A random state dict with the official names and shapes of ``role``."""
    g = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    with open(KEYS) as f:
        for line in f:
            if line.startswith('#'):
                continue
            r, key, shape = line.split()
            if r != role:
                continue
            if shape == 'scalar':
                state[key] = torch.tensor(7)
            else:
                state[key] = torch.randn(*map(int, shape.split('x')), generator=g)
    return state


@pytest.mark.parametrize('role', ['generator', 'discriminator', 'teacher'])
def test_parameter_counts_match_official_build(role):
    net = build_network(role, 'meta')
    assert sum(p.numel() for p in net.parameters()) == OFFICIAL_PARAMS[role]
    official = official_state(role)
    n_params = sum(v.numel() for k, v in official.items()
                   if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')))
    assert n_params == OFFICIAL_PARAMS[role]


@pytest.mark.parametrize('role', ['generator', 'discriminator', 'teacher'])
def test_converter_is_strict_and_by_name(role):
    official = official_state(role)
    converted = convert_network(official, role)
    assert len(converted) == len(official)
    net = build_network(role)
    net.load_state_dict(converted, strict=True)
    # every official tensor lands somewhere, unchanged
    assert sorted(v.sum().item() for v in converted.values()) == \
        sorted(v.sum().item() for v in official.values())
    spot = {'generator': ('output_layer.0.weight', 'head.weight'),
            'discriminator': ('discriminator.0.weight', 'body.0.weight'),
            'teacher': ('bottle6.bottleneck.3.weight', 'bottlenecks.5.body.3.weight')}[role]
    assert torch.equal(converted[spot[1]], official[spot[0]])
    if role == 'generator':
        assert torch.equal(converted['refine.1.global_attention.scale_mlp'],
                           official['other_unet.1.globalatt.layer_scale_2'])
        assert torch.equal(converted['encoder.cloud_head.6.bias'],
                           official['feature_extractor.cloud_detection.cloud_det.6.bias'])

    missing = OrderedDict(list(official.items())[1:])
    with pytest.raises(ConversionError, match='not covered'):
        convert_network(missing, role)
    renamed = OrderedDict(official)
    renamed['extra.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError, match='extra.weight'):
        convert_network(renamed, role)
    first = next(iter(official))
    reshaped = OrderedDict(official)
    reshaped[first] = torch.zeros(3)
    with pytest.raises(ConversionError, match='shape'):
        convert_network(reshaped, role)


def test_convert_files(tmp_path):
    gen, dis = tmp_path / 'G_best.pth', tmp_path / 'D.pth'
    torch.save(official_state('generator'), gen)
    torch.save(official_state('discriminator'), dis)
    out = convert(str(gen), str(dis))
    assert out['meta']['source_format'] == 'pmaa_official'
    keys = set(out['state_dict'])
    assert {k.split('.')[0] for k in keys} == {'generator', 'discriminator'}
    teacher = tmp_path / 'Feature_Extrator_FS2.pth'
    torch.save(official_state('teacher'), teacher)
    t = convert(teacher_path=str(teacher))
    pmaa_teacher().load_state_dict(t['state_dict'], strict=True)
    with pytest.raises(ConversionError):  # the teacher is not a generator
        convert(str(teacher))


def test_forward_shapes_and_errors():
    torch.manual_seed(0)
    net = PMAA(dim=4, aspp_hidden=4).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    image, masks, aux = net(x)
    assert image.shape == (2, 4, 32, 32) and image.abs().max() <= 1
    assert len(masks) == len(aux) == 3
    assert masks[0].shape == (2, 1, 32, 32) and aux[0].shape == (2, 4, 32, 32)
    assert ((masks[0] >= 0) & (masks[0] <= 1)).all()
    # each date's cloud map is computed from that date
    assert not torch.allclose(net(x.flip(1))[1][0], masks[0])
    with pytest.raises(ValueError, match='B×3×C×H×W'):
        net(torch.randn(2, 12, 32, 32))
    with pytest.raises(ValueError, match='3 dates'):
        PMAA(num_frames=2)
    d = PMAADiscriminator(in_channels=16, base=4)
    assert d(torch.randn(2, 16, 64, 64)).shape == (2, 1, 1, 1)
