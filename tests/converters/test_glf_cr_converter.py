"""GLF-CR converter: the official state-dict layout (names, shapes and derived buffers of
xufangchn/GLF-CR's network, tests/data/glf_cr_official/) converts strictly by name, loads
into crbench's GLFCR and reaches the SupervisedRestorer layout; damaged files are refused
with the key named, and the command line exits 2.
"""
import json
import os.path as osp
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

from crbench.converters import ConversionError
from crbench.converters.glf_cr import (OFFICIAL_TO_CRBENCH, convert, hyper_parameters, main,
                                       read_official)
from crbench.models.reference.glf_cr import GLFCR

FIXTURE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'glf_cr_official')


@pytest.fixture(scope='module')
def official():
    """An official-format state dict: the fixture's names and shapes, random weights, and
    the official index / mask buffers."""
    with open(osp.join(FIXTURE, 'state_dict_keys.json')) as f:
        keys = json.load(f)['keys']
    buffers = np.load(osp.join(FIXTURE, 'derived_buffers.npz'))
    index = torch.from_numpy(buffers['relative_position_index'].astype(np.int64))
    mask = torch.from_numpy(np.where(buffers['attn_mask_is_masked'], -100.0, 0.0).astype(np.float32))
    gen = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for name, shape, dtype in keys:
        if name.endswith('relative_position_index'):
            state[name] = index.clone()
        elif name.endswith('attn_mask'):
            state[name] = mask.clone()
        else:
            assert dtype == 'float32', name
            state[name] = torch.randn(shape, generator=gen)
        assert list(state[name].shape) == shape, name
    return state


def test_official_layout_converts_strictly(official):
    assert len(official) == 988
    assert hyper_parameters(official) == dict(
        opt_channels=13, sar_channels=2, channels=96, growth=48, num_blocks=6, num_layers=5,
        num_heads=8, window_size=8, mlp_ratio=2.0, kernel_size=5)
    ours = convert(official)
    derived = [k for k in official if k.endswith(('relative_position_index', 'attn_mask'))]
    assert len(derived) == 30 + 12      # every layer's index; the 2 shifted layers of 6 blocks
    assert len(ours) == len(official) - len(derived)
    net = GLFCR()
    net.load_state_dict(ours, strict=True)
    # values travel with their names
    assert torch.equal(ours['opt_stem1.weight'], official['SFENet1.weight'])
    assert torch.equal(ours['blocks.3.layers.4.attn.gate.weight'],
                       official['RDBs.3.convs.4.attn.attn_fuse_1x1conv.weight'])
    assert torch.equal(ours['fusions.5.kernel_net.2.body.2.bias'],
                       official['DF.5.fac_warp.2.stem.2.bias'])
    assert torch.equal(ours['tail.2.weight'], official['UPNet.2.weight'])


def test_every_rule_is_used(official):
    used = {p for p, _ in OFFICIAL_TO_CRBENCH for k in official if re.fullmatch(p, k)}
    assert used == {p for p, _ in OFFICIAL_TO_CRBENCH}


def test_refusals_name_the_key(official):
    extra = OrderedDict(official, **{'RDBs.0.convs.0.extra.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match='RDBs.0.convs.0.extra.weight'):
        convert(extra)
    missing = OrderedDict((k, v) for k, v in official.items() if k != 'GFF.1.bias')
    with pytest.raises(ConversionError, match='global_fuse.1.bias'):
        convert(missing)
    bad_mask = OrderedDict(official)
    bad_mask['RDBs.2.convs.3.attn_mask'] = torch.zeros_like(official['RDBs.2.convs.3.attn_mask'])
    with pytest.raises(ConversionError, match='RDBs.2.convs.3.attn_mask differs'):
        convert(bad_mask)
    bad_index = OrderedDict(official)
    bad_index['RDBs.1.convs.0.attn.relative_position_index'] = torch.zeros(64, 64, dtype=torch.long)
    with pytest.raises(ConversionError, match='relative_position_index differs'):
        convert(bad_index)
    swapped = OrderedDict(official)
    swapped['SFENet2.weight'] = torch.zeros(96, 96, 5, 5)
    with pytest.raises(ConversionError, match="'SFENet2.weight'.*shape"):
        convert(swapped)


def test_command_line(official, tmp_path, capsys):
    src = tmp_path / 'CR_net.pth'
    torch.save({'network': OrderedDict(('module.' + k, v) for k, v in official.items())}, src)
    assert list(read_official(str(src)))[0] == 'SFENet1.weight'   # DataParallel prefix gone
    dst = tmp_path / 'out' / 'glf_cr.pth'
    assert main([str(src), str(dst)]) == 0
    out = torch.load(dst, weights_only=True)
    assert all(k.startswith('generator.') for k in out['state_dict'])
    assert out['meta']['source_format'] == 'glf_cr_official'
    assert out['meta']['input_conventions']['value_range'] == [0.0, 1.0]
    assert torch.equal(out['state_dict']['generator.opt_stem2.bias'], official['SFENet2.bias'])

    assert main([str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth')]) == 2
    torch.save({'network': {'foo': torch.zeros(1)}}, tmp_path / 'other.pth')
    assert main([str(tmp_path / 'other.pth'), str(tmp_path / 'x.pth')]) == 2
    (tmp_path / 'corrupt.pth').write_bytes(b'not a checkpoint')
    assert main([str(tmp_path / 'corrupt.pth'), str(tmp_path / 'x.pth')]) == 2
    err = capsys.readouterr().err
    assert 'nope.pth' in err and "'SFENet1.weight' is missing" in err and 'corrupt.pth' in err
    assert not (tmp_path / 'x.pth').exists()
