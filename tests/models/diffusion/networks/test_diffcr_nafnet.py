"""DiffCRNAFNet (crbench/models/diffusion/networks/diffcr_nafnet.py) and its converter
(crbench/converters/diffcr.py).

Parameter counts: the official build (XavierJiezou/DiffCR, config/ours_sigmoid.json,
``UNet(img_channel=3, width=64, middle_blk_num=1, enc_blk_nums=[1]*4, dec_blk_nums=[1]*4)``)
has 22,937,731 parameters, counted from its state dict in a scratch copy of the official
code. The converter is tested on an official-format state dict generated from the
official key names (``denoise_fn.`` prefix and schedule buffers of the ``Network`` wrapper).
"""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from crbench.converters.common import ConversionError
from crbench.converters.diffcr import (BLOCK_NAMES, SCHEDULE_BUFFERS, check_against,
                                       convert_state_dict)
from crbench.models.diffusion.networks.diffcr_nafnet import DiffCRNAFNet, sinusoidal_embedding
from crbench.registry import MODELS

OFFICIAL_SEN2MTC_PARAMS = 22_937_731


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_official_build_on_meta_device():
    with torch.device('meta'):
        net = DiffCRNAFNet(in_channels=3, out_channels=3, width=64)
    assert _count(net) == OFFICIAL_SEN2MTC_PARAMS


@pytest.mark.parametrize('config,params', [('configs/diffcr/diffcr_sen2mtc_new.py', 22_937_731),
                                           ('configs/diffcr/diffcr_sen12mscr.py', 22_956_173)])
def test_config_parameter_counts(config, params):
    from crbench.setup_env import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    assert cfg.model_name == 'diffcr'
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert _count(model.network) == params


def test_output_shape_pads_to_multiple_and_frames_are_summed():
    torch.manual_seed(0)
    net = DiffCRNAFNet(in_channels=3, width=8, enc_blocks=(1, 1), dec_blocks=(1, 1)).eval()
    for p in net.parameters():  # the zero-initialised block scales would hide the condition
        torch.nn.init.normal_(p, std=0.1)
    x, gamma = torch.randn(2, 3, 10, 12), torch.rand(2)
    cond = torch.randn(2, 3, 3, 10, 12)
    out = net(x, gamma, cond)
    assert out.shape == (2, 3, 12, 12)  # zero-padded to a multiple of 2^2 like the reference
    # frames are fused by a sum: their order does not matter, their content does
    assert torch.allclose(out, net(x, gamma, cond.flip(1)), atol=1e-5)
    assert not torch.allclose(out, net(x, gamma, cond * 0.5), atol=1e-3)
    with pytest.raises(ValueError, match='bands'):
        net(torch.randn(1, 4, 8, 8), gamma[:1], cond[:1, :, :, :8, :8])


def test_sinusoidal_embedding_closed_form():
    emb = sinusoidal_embedding(torch.tensor([0.0, 0.5]), 4)
    freqs = torch.tensor([1.0, 10000 ** -0.5])
    expected = torch.cat([torch.cos(0.5 * freqs), torch.sin(0.5 * freqs)])
    assert torch.allclose(emb[1], expected)
    assert torch.equal(emb[0], torch.tensor([1.0, 1.0, 0.0, 0.0]))


def official_names(net: DiffCRNAFNet):
    """The official key of every crbench key (the inverse table, written out independently)."""
    inverse = {v: k for k, v in BLOCK_NAMES.items()}
    names = {}
    for key in net.state_dict():
        name = key
        for mine, theirs in (('noisy_stem.', 'intro.'), ('cond_stem.', 'cond_intro.'),
                             ('head.', 'ending.'), ('noise_mlp.', 'map.'),
                             ('middle.', 'middle_blks.')):
            if name.startswith(mine):
                name = theirs + name[len(mine):]
        name = re.sub(r'^ups\.(\d+)\.conv\.', r'ups.\1.0.', name)
        for mine, theirs in inverse.items():
            name = re.sub(rf'\.{mine}(\.|$)', rf'.{theirs}\1', name)
        names[key] = 'denoise_fn.' + name
    return names


def test_converter_round_trip_is_strict_and_by_name():
    torch.manual_seed(0)
    net = DiffCRNAFNet(in_channels=3, width=8)
    expected = net.state_dict()
    names = official_names(net)
    official = {names[k]: v.clone() for k, v in expected.items()}
    assert 'denoise_fn.encoders.0.0.sca_avg.1.weight' in official
    assert 'denoise_fn.ups.2.0.weight' in official
    for buf in SCHEDULE_BUFFERS:
        official[buf] = torch.zeros(5)
    converted = convert_state_dict(official)
    check_against(converted, expected)
    fresh = DiffCRNAFNet(in_channels=3, width=8)
    fresh.load_state_dict(converted, strict=True)
    for k, v in expected.items():
        assert torch.equal(fresh.state_dict()[k], v), k

    with pytest.raises(ConversionError, match='no crbench name'):
        convert_state_dict(dict(official, **{'denoise_fn.extra_head.weight': torch.zeros(1)}))
    partial = dict(converted)
    partial.pop('head.bias')
    with pytest.raises(ConversionError, match='missing'):
        check_against(partial, expected)
    wider = convert_state_dict({names[k]: v for k, v in
                                DiffCRNAFNet(in_channels=3, width=16).state_dict().items()})
    with pytest.raises(ConversionError, match='shape'):
        check_against(wider, expected)


def test_command_line_writes_the_common_metadata_block(repo_root, tmp_path, capsys):
    """convert_diffcr.py CONFIG CKPT OUT: strict against CONFIG's network, and the meta is
    the block every converter writes (source format, sha256 of the file, conventions)."""
    from crbench.converters.common import SOURCE_FORMATS, converter_command
    from crbench.converters.diffcr import main
    from crbench.engine.compat import file_sha256
    from crbench.setup_env import register_all_modules
    register_all_modules()
    config = tmp_path / 'tiny_diffcr.py'
    base = osp.join(repo_root, 'configs', 'diffcr', 'diffcr_sen2mtc_new.py')
    config.write_text(f"_base_ = ['{base}']\n"
                      'model = dict(network=dict(width=8))\n')
    net = MODELS.build(Config.fromfile(str(config)).model.network)
    names = official_names(net)
    official = {names[k]: v for k, v in net.state_dict().items()}
    official.update({buf: torch.zeros(5) for buf in SCHEDULE_BUFFERS})
    src, out = str(tmp_path / '3000_Network_ema.pth'), str(tmp_path / 'converted.pth')
    torch.save(official, src)
    assert converter_command(official, src, str(config)) == (
        f'python tools/model_converters/convert_diffcr.py {config} {src} '
        '3000_Network_ema_crbench.pth')
    assert main([str(config), src, out]) == 0
    checkpoint = torch.load(out, map_location='cpu', weights_only=True)
    meta = checkpoint['meta']
    assert meta['source_format'] == 'diffcr_palette'
    assert meta['source_format_description'] == SOURCE_FORMATS['diffcr_palette'][0]
    assert meta['sources']['checkpoint'] == dict(file='3000_Network_ema.pth',
                                                 sha256=file_sha256(src))
    assert meta['input_conventions']['value_range'] == [-1.0, 1.0]
    assert set(checkpoint['state_dict']) == {'network.' + k for k in net.state_dict()}
    wide = {names[k]: torch.zeros(3) for k in net.state_dict()}
    torch.save(wide, src)
    assert main([str(config), src, out + '.bad']) == 2
    assert 'shape' in capsys.readouterr().err and not osp.exists(out + '.bad')
