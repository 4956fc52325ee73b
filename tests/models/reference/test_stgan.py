"""STGAN networks and the strict converter of official checkpoints.

Parameter counts are those of the official build (ermongroup/STGAN
``UnetIndependentBranchedGenerator(4, 3, 8, 64)`` and ``NLayerDiscriminator(15, 64, 3)``
with batch norms), counted on the meta device; the official key names and shapes
(``data/stgan_official_keys.txt``) were dumped from the official networks' ``state_dict()``.
"""
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from crbench.converters.common import ConversionError
from crbench.converters.stgan import build_network, convert, convert_network
from crbench.models.reference.stgan import STGANDiscriminator, STGANGenerator

KEYS = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'stgan_official_keys.txt')
OFFICIAL_PARAMS = {'generator': 93_480_579, 'discriminator': 2_777_921}


def official_state(role, seed=0):
    """Tensors under the official names, each filled with its own index (the generator has
    93M parameters: random fills would be slow); the generator's three encoder branches hold
    the same tensors, as the official (weight-sharing) network saves them."""
    state = OrderedDict()
    with open(KEYS) as f:
        for line in f:
            if line.startswith('#'):
                continue
            r, key, shape = line.split()
            if r != role:
                continue
            twin = key.replace('.model_1.', '.model_0.').replace('.model_2.', '.model_0.')
            if twin != key:
                state[key] = state[twin]
            elif shape == 'scalar':
                state[key] = torch.tensor(3)
            else:
                state[key] = torch.full(tuple(map(int, shape.split('x'))), float(len(state) + seed))
    return state


@pytest.mark.parametrize('role', ['generator', 'discriminator'])
def test_parameter_counts_and_strict_conversion(role):
    assert sum(p.numel() for p in build_network(role, 'meta').parameters()) == OFFICIAL_PARAMS[role]
    official = official_state(role)
    converted = convert_network(official, role)
    build_network(role, 'meta').load_state_dict(converted, strict=True, assign=True)
    if role == 'generator':
        assert torch.equal(converted['encoder.0.0.weight'], official['down1.model_0.0.weight'])
        assert torch.equal(converted['encoder.3.1.running_var'], official['down4.model_0.2.running_var'])
        assert torch.equal(converted['decoder.0.0.weight'], official['up8.model.1.weight'])
        assert torch.equal(converted['decoder.7.bias'], official['up1.model.1.bias'])
        split = OrderedDict(official)  # branches that do not share weights are not STGAN's
        split['down3.model_2.1.weight'] = split['down3.model_2.1.weight'] + 1
        with pytest.raises(ConversionError, match='share weights'):
            convert_network(split, role)
    else:
        assert torch.equal(converted['body.11.weight'], official['model.11.weight'])
    missing = OrderedDict(list(official.items())[3:])
    with pytest.raises(ConversionError, match='not covered'):
        convert_network(missing, role)
    extra = OrderedDict(official, **{'extra.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match='extra.weight'):
        convert_network(extra, role)


def test_convert_files(tmp_path):
    dis = tmp_path / '200_net_D.pth'
    torch.save(official_state('discriminator'), dis)
    with pytest.raises(FileNotFoundError):
        convert(str(tmp_path / 'missing_net_G.pth'), str(dis))
    with pytest.raises(ConversionError):  # a discriminator is not a generator
        convert(str(dis))


def test_forward_shapes_and_errors():
    torch.manual_seed(0)
    net = STGANGenerator(ngf=4, num_downs=5).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    y = net(x)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    assert torch.equal(net(x.flatten(1, 2)), y)  # folded dates are the same input
    with pytest.raises(ValueError, match='B×3×4×H×W'):
        net(torch.randn(2, 3, 3, 32, 32))
    d = STGANDiscriminator(in_channels=15, ndf=4)
    assert d(torch.randn(2, 12, 32, 32), y).shape == (2, 1, 2, 2)


def test_networks_start_from_the_reference_init_and_d_is_pix2pix_patchgan():
    """ermongroup/STGAN builds G and D through init_net(init_type='normal', gain 0.02):
    conv weights N(0, 0.02), biases 0, BN scales N(1, 0.02); D is pix2pix's PatchGAN."""
    from crbench.models.reference.pix2pix import Pix2PixPatchDiscriminator
    torch.manual_seed(0)
    for net in (STGANGenerator(ngf=8, num_downs=5), STGANDiscriminator(in_channels=15, ndf=16)):
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        weights = torch.cat([m.weight.flatten() for m in convs])
        assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
        assert all(m.bias is None or not m.bias.any() for m in convs)
        scales = torch.cat([m.weight for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)])
        assert abs(scales.mean().item() - 1) < 0.01 and 0.01 < scales.std().item() < 0.03
    torch.manual_seed(1)
    ours = STGANDiscriminator(in_channels=15, ndf=4)
    torch.manual_seed(1)
    pix2pix = Pix2PixPatchDiscriminator(in_channels=15, ndf=4)
    assert [(k.split('.', 1)[1], v.shape) for k, v in ours.state_dict().items()] == \
        [(k.split('.', 1)[1], v.shape) for k, v in pix2pix.state_dict().items()]
    x, y = torch.randn(1, 12, 32, 32), torch.randn(1, 3, 32, 32)
    assert torch.equal(ours.eval()(x, y), pix2pix.eval()(x, y))
    with pytest.raises(ValueError, match='12 condition \\+ 4 image channels'):
        ours(x, torch.randn(1, 4, 32, 32))
