"""tools/model_converters/convert_collection.py on state dicts named as the official code names them.

The official key names and their order come from the official networks themselves
(tests/data/collection_official/, dumped from littlebeen/Cloud-removal-model-collection);
tensors are random with the shapes the crbench network expects at the matching place. The converter must pair every official
tensor with the right crbench key, and the result must load strictly into the
crbench frameworks.
"""
import copy
import os
import json
import os.path as osp
import re
import sys
from collections import OrderedDict

import pytest
import torch

from crbench.registry import MODELS

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                            'tools', 'model_converters'))
import convert_collection as cc  # noqa: E402

pytestmark = pytest.mark.filterwarnings('ignore:VGGPerceptualLoss uses a RANDOM VGG16')


# ----------------------------------------------------------------------------------------
# Official key names, in the order the official modules register them: dumped from the
# official networks (tests/data/collection_official/SOURCE.md), not written from the
# converter's tables
# ----------------------------------------------------------------------------------------
OFFICIAL_KEYS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
                         'collection_official', 'state_dict_keys.json')


def official_keys(name):
    with open(OFFICIAL_KEYS) as f:
        return json.load(f)[name]


def cvae_keys(depth):
    """The official VAE's names for a ViT of ``depth`` layers (the fixture's has 4)."""
    keys = official_keys('cvae_generator')
    layer = lambda k: re.search(r'\.layers\.(\d+)\.', k)  # noqa: E731
    assert depth <= len({layer(k)[1] for k in keys if layer(k)})
    return [k for k in keys if not layer(k) or int(layer(k)[1]) < depth]


def official_by_position(official_keys, network, seed=0):
    """Official names with random tensors shaped like the crbench tensor at that place."""
    target = list(network.state_dict().items())
    assert len(official_keys) == len(target), (len(official_keys), len(target))
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    pairs = {}
    for okey, (ckey, value) in zip(official_keys, target):
        t = torch.randn(value.shape, generator=g) if value.is_floating_point() else value.clone() + 7
        sd[okey] = t
        pairs[ckey] = okey
    return sd, pairs


# MemoryNet (MPRNet): (official module, crbench module, is a CAB) in the official
# registration order, written independently of the converter's regular expressions.
def memorynet_modules(num_cab=8):
    mods = []
    for k in (1, 2, 3):
        mods += [(f'shallow_feat{k}.0', f'shallow{k}.0', False),
                 (f'shallow_feat{k}.1', f'shallow{k}.1', True)]
    for s in (1, 2):
        enc, dec = f'stage{s}_encoder', f'stage{s}_decoder'
        for level in (1, 2, 3):
            mods += [(f'{enc}.encoder_level{level}.{i}', f'encoder{s}.levels.{level - 1}.{i}', True)
                     for i in (0, 1)]
        mods += [(f'{enc}.down12.down.1', f'encoder{s}.downs.0.proj', False),
                 (f'{enc}.down23.down.1', f'encoder{s}.downs.1.proj', False)]
        if s == 2:
            for kind in ('enc', 'dec'):
                mods += [(f'{enc}.csff_{kind}{i}', f'encoder2.fuse_{kind}.{i - 1}', False)
                         for i in (1, 2, 3)]
        for level in (1, 2, 3):
            mods += [(f'{dec}.decoder_level{level}.{i}', f'decoder{s}.levels.{level - 1}.{i}', True)
                     for i in (0, 1)]
        mods += [(f'{dec}.skip_attn{i}', f'decoder{s}.skips.{i - 1}', True) for i in (1, 2)]
        mods += [(f'{dec}.up21.up.1', f'decoder{s}.ups.0.proj', False),
                 (f'{dec}.up32.up.1', f'decoder{s}.ups.1.proj', False)]
    orsnet = 'stage3_orsnet'
    for i in (1, 2, 3):
        mods += [(f'{orsnet}.orb{i}.body.{j}', f'orsnet.orbs.{i - 1}.cabs.{j}', True)
                 for j in range(num_cab)]
        mods += [(f'{orsnet}.orb{i}.body.{num_cab}', f'orsnet.orbs.{i - 1}.conv', False)]
    for kind in ('enc', 'dec'):
        mods += [(f'{orsnet}.up_{kind}1.up.1', f'orsnet.up_{kind}.1.0.proj', False)]
    for kind in ('enc', 'dec'):
        mods += [(f'{orsnet}.up_{kind}2.{j}.up.1', f'orsnet.up_{kind}.2.{j}.proj', False) for j in (0, 1)]
    for kind in ('enc', 'dec'):
        mods += [(f'{orsnet}.conv_{kind}{i}', f'orsnet.proj_{kind}.{i - 1}', False) for i in (1, 2, 3)]
    for s in ('12', '23'):
        mods += [(f'sam{s}.{conv}', f'sam{s}.{name}', False)
                 for conv, name in (('conv1', 'feat'), ('conv2', 'to_img'), ('conv3', 'from_img'))]
    mods += [('concat12', 'merge12', False), ('concat23', 'merge23', False), ('tail', 'tail', False)]
    return mods


def official_memorynet(network, seed=0):
    """Official MPRNet keys in official order (CAB: CA first, then body) and the pairing."""
    shapes = network.state_dict()
    g = torch.Generator().manual_seed(seed)
    slope = torch.rand(1, generator=g)
    sd, pairs = OrderedDict(), {}
    for module, c, is_cab in memorynet_modules():
        parts = ([('CA.conv_du.0', 'ca.down'), ('CA.conv_du.2', 'ca.up'), ('body.0', 'conv1'),
                  ('body.1', 'act'), ('body.2', 'conv2')] if is_cab else [(None, None)])
        for o_sub, c_sub in parts:
            okey = f'{module}.{o_sub}.weight' if o_sub else f'{module}.weight'
            ckey = f'{c}.{c_sub}.weight' if c_sub else f'{c}.weight'
            sd[okey] = slope.clone() if c_sub == 'act' else torch.randn(shapes[ckey].shape, generator=g)
            pairs[ckey] = okey
    return sd, pairs, slope


# ----------------------------------------------------------------------------------------
def build(cfg):
    return MODELS.build(copy.deepcopy(cfg))


def save(sd, path):
    torch.save(sd, path)
    return str(path)


def check_pairs(converted, prefix, official, pairs):
    for ckey, okey in pairs.items():
        assert torch.equal(converted[prefix + ckey], official[okey]), (ckey, okey)


GAN_CASES = {
    'spagan': (dict(type='SpAGANGenerator', in_channels=15, out_channels=13),
               dict(type='PatchDiscriminator', in_channels=15, out_channels=13)),
    'amgan_cr': (dict(type='AMGANCRGenerator', in_channels=4, out_channels=3),
                 dict(type='PatchDiscriminator', in_channels=4, out_channels=3)),
    'msda_cr': (dict(type='MSDACRGenerator', in_channels=4),
                dict(type='MSDACRDiscriminator', in_channels=4)),
}


@pytest.mark.parametrize('model', sorted(GAN_CASES))
def test_gan_checkpoints_round_trip_into_the_gan_restorer(model, tmp_path):
    gen_cfg, dis_cfg = GAN_CASES[model]
    gen_sd, gen_pairs = official_by_position(official_keys(f'{model}_generator'), build(gen_cfg),
                                             seed=1)
    dis_sd, dis_pairs = official_by_position(official_keys(f'{model}_discriminator'),
                                             build(dis_cfg), seed=2)
    out = str(tmp_path / 'converted.pth')
    assert cc.main([model, save(gen_sd, tmp_path / 'gen_model_epoch_200.pth'), out,
                    '--discriminator', save(dis_sd, tmp_path / 'dis_model_epoch_200.pth')]) == 0
    checkpoint = torch.load(out, map_location='cpu', weights_only=True)
    state, meta = checkpoint['state_dict'], checkpoint['meta']
    assert all(k.startswith(('generator.', 'discriminator.')) for k in state)
    check_pairs(state, 'generator.', gen_sd, gen_pairs)
    check_pairs(state, 'discriminator.', dis_sd, dis_pairs)
    assert meta['generator'] == gen_cfg and meta['discriminator'] == dis_cfg
    assert meta['input_conventions']['value_range'] == [0.0, 1.0] and meta['model'] == model
    assert meta['source_format'] == 'collection'
    assert meta['input_conventions']['band_order'] == 'RGB'
    assert len(meta['sources']['generator']['sha256']) == 64
    assert len(meta['sources']['discriminator']['sha256']) == 64
    # strict loading into the framework (its loss modules hold no checkpoint state)
    restorer = MODELS.build(dict(
        type='GANRestorer', generator=meta['generator'], discriminator=meta['discriminator'],
        conditional=model != 'msda_cr', adversarial='wgan' if model == 'msda_cr' else 'logistic',
        pixel_losses=dict(perceptual=dict(type='VGGPerceptualLoss', allow_random=True)),
        network_range=(0, 1)))
    restorer.load_state_dict(state, strict=True)
    loaded = restorer.state_dict()
    check_pairs(loaded, 'generator.', gen_sd, gen_pairs)
    check_pairs(loaded, 'discriminator.', dis_sd, dis_pairs)


def test_cvae_checkpoint_round_trip(tmp_path):
    cfg = dict(type='CVAE', in_channels=4, image_size=32, patch_size=16, embed_dim=32, depth=2,
               num_heads=8, mlp_ratio=2.0, latent_dim=8)
    sd, pairs = official_by_position(cvae_keys(depth=2), build(cfg), seed=3)
    checkpoint = cc.convert('cvae', save(sd, tmp_path / 'gen.pth'))
    assert checkpoint['meta']['generator'] == cfg           # every size read from the tensors
    check_pairs(checkpoint['state_dict'], 'generator.', sd, pairs)
    restorer = MODELS.build(dict(type='CVAERestorer', generator=checkpoint['meta']['generator']))
    restorer.load_state_dict(checkpoint['state_dict'], strict=True)
    encoder = restorer.generator.encoder
    assert torch.equal(encoder.pos_embed, sd['encoder.patch_embedding.position_embeddings'])
    assert torch.equal(encoder.logvar_token, sd['encoder.patch_embedding.log_var_tokens'])


def test_unmodified_official_4band_cvae_is_recognised(tmp_path, capsys):
    cfg = dict(type='CVAE', in_channels=4, image_size=32, patch_size=16, embed_dim=32, depth=1,
               num_heads=8, mlp_ratio=2.0, latent_dim=8, official_4band_param_layout=True)
    sd, _ = official_by_position(cvae_keys(depth=1), build(cfg))
    checkpoint = cc.convert('cvae', save(sd, tmp_path / 'gen.pth'))
    assert checkpoint['meta']['generator']['official_4band_param_layout'] is True
    assert 'cannot run forward' in capsys.readouterr().out


def test_memorynet_checkpoint_round_trip_by_name(tmp_path):
    network = build(dict(type='MemoryNet', in_channels=3))
    sd, pairs, slope = official_memorynet(network)
    assert list(sd) == official_keys('memorynet_generator')   # the official MPRNet(3, 3)
    checkpoint = cc.convert('memorynet', save(sd, tmp_path / 'gen.pth'))
    state = checkpoint['state_dict']
    check_pairs(state, 'generator.', sd, pairs)
    assert torch.equal(state['generator.act.weight'], slope)       # the shared PReLU
    restorer = MODELS.build(dict(type='SupervisedRestorer', generator=checkpoint['meta']['generator'],
                                 losses=dict(c=dict(type='CharbonnierLoss'))))
    restorer.load_state_dict(state, strict=True)
    assert restorer.generator.act is restorer.generator.shallow1[1].act
    # DataParallel prefixes and an 'state_dict' wrapper are accepted
    wrapped = {'state_dict': OrderedDict(('module.' + k, v) for k, v in sd.items())}
    again = cc.convert('memorynet', save(wrapped, tmp_path / 'wrapped.pth'))['state_dict']
    assert all(torch.equal(again[k], state[k]) for k in state)


def test_mismatches_fail_with_the_keys_named(tmp_path, capsys):
    gen_cfg, _ = GAN_CASES['spagan']
    sd, _ = official_by_position(official_keys('spagan_generator'), build(gen_cfg))
    keys = list(sd)
    # a renamed tensor: both the unknown and the missing official name are given
    bad = OrderedDict((k.replace('left_weight.bias', 'left_weight.scale'), v) for k, v in sd.items())
    with pytest.raises(cc.ConversionError, match=r"left_weight\.scale.*left_weight\.bias"):
        cc.convert('spagan', save(bad, tmp_path / 'a.pth'))
    # a wrong shape
    bad = OrderedDict(sd)
    bad[keys[5]] = torch.zeros(3)
    with pytest.raises(cc.ConversionError, match='shape'):
        cc.convert('spagan', save(bad, tmp_path / 'b.pth'))
    # a missing tensor
    bad = OrderedDict(list(sd.items())[:-3] + list(sd.items())[-2:])
    with pytest.raises(cc.ConversionError, match='missing'):
        cc.convert('spagan', save(bad, tmp_path / 'c.pth'))
    # two blocks' tensors swapped (same shapes, same leaf names): position pairing would
    # silently exchange the blocks; the name table sees the edited order and names both
    items = list(sd.items())
    i3 = keys.index('gen.gen.res_block3.group1.conv1.weight')
    i5 = keys.index('gen.gen.res_block5.group1.conv1.weight')
    items[i3:i3 + 3], items[i5:i5 + 3] = items[i5:i5 + 3], items[i3:i3 + 3]
    with pytest.raises(cc.ConversionError, match=r"res_block5\.group1\.conv1\.weight.*"
                       r"res_block3\.group1\.conv1\.weight"):
        cc.convert('spagan', save(OrderedDict(items), tmp_path / 'swapped.pth'))
    # the wrong model for the file
    assert cc.main(['memorynet', save(sd, tmp_path / 'd.pth'), str(tmp_path / 'o.pth')]) == 2
    assert 'shallow_feat1.0.weight' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / 'o.pth')
    # MemoryNet: an extra key fails the strict load, named
    network = build(dict(type='MemoryNet', in_channels=3))
    mn, _, _ = official_memorynet(network)
    mn['stage3_orsnet.orb1.body.0.body.0.bias'] = torch.zeros(56)
    with pytest.raises(cc.ConversionError, match=r'1 unexpected.*orsnet\.orbs\.0\.cabs\.0\.conv1\.bias'):
        cc.convert('memorynet', save(mn, tmp_path / 'e.pth'))
    mn, _, _ = official_memorynet(network)
    mn[next(k for k in mn if k.endswith('body.1.weight'))] = torch.tensor([0.5])
    with pytest.raises(cc.ConversionError, match='PReLU'):
        cc.convert('memorynet', save(mn, tmp_path / 'f.pth'))
    with pytest.raises(ValueError, match='no discriminator'):
        cc.convert('cvae', str(tmp_path / 'd.pth'), str(tmp_path / 'd.pth'))


def test_file_order_does_not_decide_the_mapping(tmp_path):
    """The name table, not the file, pairs tensors: the crbench key of an official name is
    the same whatever else the file holds."""
    table = cc.name_table('spagan', 'generator', dict(type='SpAGANGenerator', in_channels=3,
                                                        out_channels=3))
    assert table['gen.gen.res_block3.group1.conv1.weight'][0] == 'blocks.2.reduce.weight'
    assert table['gen.gen.SAM1.irnn2.down_weight.bias'][0] == 'sam.shift2.from_below.bias'
    assert table['gen.gen.SAM1.attention_layer.conv3.weight'][0] == 'sam.direction.4.weight'


def test_three_band_spagan_of_unknown_origin_needs_source(tmp_path):
    cfg = dict(type='SpAGANGenerator', in_channels=3, out_channels=3)
    sd, pairs = official_by_position(official_keys('spagan_generator'), build(cfg))
    sd = OrderedDict((k, 0.05 * v) for k, v in sd.items())   # keep activations finite
    path = save(sd, tmp_path / 'gen.pth')
    with pytest.raises(cc.ConversionError, match='--source collection or --source penn000'):
        cc.convert('spagan', path)
    rgb = cc.convert('spagan', path, source='collection')
    bgr = cc.convert('spagan', path, source='penn000')
    assert rgb['meta']['source_format'] == 'collection'
    assert bgr['meta']['source_format'] == 'penn000_spagan'
    assert bgr['meta']['input_conventions']['band_order'] == 'RGB'
    assert 'BGR' in bgr['meta']['input_conventions']['folded']
    # folding reverses the first layer's input and the last layer's output channels only
    w_in, w_out = rgb['state_dict']['generator.conv_in.weight'], rgb['state_dict']['generator.conv_out.weight']
    assert torch.equal(bgr['state_dict']['generator.conv_in.weight'], w_in[:, [2, 1, 0]])
    assert torch.equal(bgr['state_dict']['generator.conv_out.weight'], w_out[[2, 1, 0]])
    same = [k for k in rgb['state_dict'] if k not in ('generator.conv_in.weight',
                                                      'generator.conv_out.weight')]
    assert all(torch.equal(rgb['state_dict'][k], bgr['state_dict'][k]) for k in same)
    # so the converted network on RGB input gives the official network's BGR output, reversed
    rgb_net, bgr_net = build(cfg), build(cfg)
    rgb_net.load_state_dict({k[len('generator.'):]: v for k, v in rgb['state_dict'].items()})
    bgr_net.load_state_dict({k[len('generator.'):]: v for k, v in bgr['state_dict'].items()})
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        official = rgb_net(x.flip(1))       # the unfolded weights, fed BGR
        folded = bgr_net(x)                 # the folded weights, fed RGB
    official = official[-1] if isinstance(official, (tuple, list)) else official
    folded = folded[-1] if isinstance(folded, (tuple, list)) else folded
    torch.testing.assert_close(folded, official.flip(1), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# DE (littlebeen/Diffusion-Enhancement-for-CR): guided-diffusion SuperResModel state dicts
# ----------------------------------------------------------------------------------------
DE_CONFIG = 'configs/de/de_memorynet_rice1.py'
DE_SMALL = dict(model_channels=32, channel_mult=(1, 2), attention_downsample=(2,), num_heads=1)


def official_de_state(with_wa=True, seed=0):
    """An official DE checkpoint's names: the U-Net's own ADM names, the WA net under sjlnet."""
    torch.manual_seed(seed)
    cnp = build(dict(type='DECNP', num_bands=3, **DE_SMALL))
    sd = OrderedDict(cnp.state_dict())
    if with_wa:
        wa = build(dict(type='DEWeightNet', num_bands=3, **DE_SMALL))
        sd.update(('sjlnet.' + k, v) for k, v in wa.state_dict().items())
    return sd


def de_options():
    opts = {f'model.cnp.{k}': v for k, v in DE_SMALL.items()}
    opts.update({f'model.weight_net.{k}': v for k, v in DE_SMALL.items()})
    return opts


def test_de_official_checkpoint_converts_by_name(repo_root, tmp_path, capsys):
    from crbench.converters import de
    sd = official_de_state()
    # ADM names as the official guided_diffusion/unet.py registers them
    for key in ('time_embed.0.weight', 'input_blocks.0.0.weight', 'middle_block.1.qkv.weight',
                'out.2.weight', 'sjlnet.input_blocks.0.0.weight', 'sjlnet.out.2.weight'):
        assert key in sd, key
    path = save(sd, tmp_path / 'model200000.pt')
    converted = de.convert(osp.join(repo_root, DE_CONFIG), path, de_options())
    state, meta = converted['state_dict'], converted['meta']
    assert torch.equal(state['cnp.input_blocks.0.0.weight'], sd['input_blocks.0.0.weight'])
    assert torch.equal(state['weight_net.out.2.weight'], sd['sjlnet.out.2.weight'])
    assert set(state) == {('weight_net.' + k[7:]) if k.startswith('sjlnet.') else 'cnp.' + k
                          for k in sd}
    assert meta['source_format'] == 'de_guided_diffusion'
    assert meta['input_conventions']['value_range'] == [-1.0, 1.0]
    assert meta['networks'] == ['cnp', 'weight_net']
    assert 'found littlebeen/Diffusion-Enhancement-for-CR' in capsys.readouterr().out
    # the converted networks load strictly into the DE framework's networks
    net = torch.nn.Module()
    net.cnp = build(dict(type='DECNP', num_bands=3, **DE_SMALL))
    net.weight_net = build(dict(type='DEWeightNet', num_bands=3, **DE_SMALL))
    net.load_state_dict(state, strict=True)


def test_de_checkpoint_without_wa_is_refused_for_a_wa_config(repo_root, tmp_path):
    from crbench.converters import de
    path = save(official_de_state(with_wa=False), tmp_path / 'model.pt')
    with pytest.raises(de.ConversionError, match=r"missing \(official names: 'sjlnet\."):
        de.convert(osp.join(repo_root, DE_CONFIG), path, de_options())
    # an unconverted DE file given to a crbench tool names this converter
    from crbench.converters.common import converter_command
    assert converter_command(official_de_state(), path).startswith(
        'python tools/model_converters/convert_de.py CONFIG ' + path)
