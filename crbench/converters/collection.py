"""Converter for checkpoints of littlebeen/Cloud-removal-model-collection and of the
original authors' repositories where they differ (Penn000/SpA-GAN_for_cloud_removal).

    python tools/model_converters/convert_collection.py spagan gen_model_epoch_200.pth \\
        work_dirs/spagan_rice1_official.pth [--discriminator dis_model_epoch_200.pth] \\
        [--source auto|collection|penn000]

Models: memorynet, msda_cr, spagan, amgan_cr, cvae. The official code saves
``gen.state_dict()`` (and ``dis.state_dict()`` for the GANs). The output is
``{'state_dict': {'generator.<key>': ..., 'discriminator.<key>': ...}, 'meta': {...}}``,
the layout of crbench's frameworks; ``meta`` is the block of
:func:`crbench.converters.common.conversion_meta`.

Mapping is **by name**, never by the position of a tensor in the file:

* MSDA-CR, SpA-GAN, AMGAN-CR, CVAE and the two discriminators: :func:`official_names`
  writes out the official key names in the order the official modules register them
  (from the official module definitions), and :func:`name_table` pairs each with the
  crbench key of the same module (crbench registers these networks' parameters in the
  official order; every pair is checked to be the same kind of tensor, ``weight``,
  ``bias``, ``running_mean``, ..., up to the renames of :data:`LEAF_RENAMES`). Each
  tensor of the file is looked up by its name in that table. A file written by the
  official code lists its tensors in registration order, so a file whose order differs
  (e.g. two blocks' tensors swapped) has been edited and is refused, naming both keys;
  a key the table does not know is refused, naming the official key it most likely
  replaced.
* MemoryNet (MPRNet): its modules are organised differently (and one PReLU is shared by
  every CAB), so keys are renamed by structured rules (:func:`memorynet_key`); the shared
  PReLU slope must be identical everywhere.

Source formats. The collection and Penn000's SpA-GAN name their tensors identically
(``gen.gen.*``) but feed the network differently: the collection reads images with
scikit-image (RGB) and trains at 256 px; Penn000 reads them with OpenCV (**BGR**) and
trains at 512 px. The two RICE generators Penn000 published are recognised by their
sha256 (:data:`PENN000_RELEASES`); another 3-band ``gen.gen.*`` SpA-GAN file is
ambiguous and needs ``--source``. For Penn000 weights the band order is folded into the
network: the input channels of the first convolution and the output channels of the
last are reversed, so the converted generator reads and writes RGB exactly as the
official one reads and writes BGR (a permutation: no numerical change). Both sources
work on [0, 1] images (``input_conventions.value_range``).

Band counts (and the CVAE's sizes) are read from the checkpoint. The converted networks
are loaded strictly into freshly built crbench networks before anything is written.
"""
import argparse
import math
import re
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from .common import (PENN000_RELEASES, ConversionError, StateDict, conversion_meta,
                     read_state_dict, run_converter, shorten)

OFFICIAL_REPO = 'littlebeen/Cloud-removal-model-collection'
PENN000_REPO = 'Penn000/SpA-GAN_for_cloud_removal'
MODEL_NAMES = ('memorynet', 'msda_cr', 'spagan', 'amgan_cr', 'cvae')
GAN_MODELS = ('msda_cr', 'spagan', 'amgan_cr')
SOURCES = ('auto', 'collection', 'penn000')

#: How each source fed its networks (meta ``input_conventions``, before folding).
CONVENTIONS = {
    'collection': dict(band_order='RGB', value_range=[0.0, 1.0], training_resolution=256),
    'penn000': dict(band_order='BGR', value_range=[0.0, 1.0], training_resolution=512),
}

#: Official own-parameter names (last key component) and their crbench names.
LEAF_RENAMES = {
    'coefficient': ('mix', 'unused_mix'),            # MSDA-CR grid / RDB mixing weights
    'position_embeddings': ('pos_embed',),           # CVAE ViT
    'mu_tokens': ('mu_token',),
    'log_var_tokens': ('logvar_token',),
}


def find_key(sd: StateDict, suffix: str, where: str) -> torch.Tensor:
    """The tensor whose key is ``suffix`` or ends with ``.suffix`` (exactly one)."""
    hits = [k for k in sd if k == suffix or k.endswith('.' + suffix)]
    if len(hits) != 1:
        raise ConversionError(f'{where}: expected one key ending in {suffix!r}, found '
                              f'{hits[:5] or "none"}; is this the right model?')
    return sd[hits[0]]


# ---------------------------------------------------------------------------------------
# Network configs inferred from a checkpoint
# ---------------------------------------------------------------------------------------
def generator_config(model: str, sd: StateDict) -> dict:
    where = f'{model} generator'
    if model == 'memorynet':
        return dict(type='MemoryNet', in_channels=find_key(sd, 'shallow_feat1.0.weight', where).shape[1])
    if model == 'msda_cr':
        return dict(type='MSDACRGenerator', in_channels=find_key(sd, 'conv_in.weight', where).shape[1])
    if model in ('spagan', 'amgan_cr'):
        cin = find_key(sd, 'conv_in.0.weight', where).shape[1]
        cout = find_key(sd, 'conv_out.0.weight', where).shape[0]
        kind = 'SpAGANGenerator' if model == 'spagan' else 'AMGANCRGenerator'
        return dict(type=kind, in_channels=cin, out_channels=cout)
    if model == 'cvae':
        patch = find_key(sd, 'patch_embedding.patch_embedding.weight', where)
        dim, cin, p = patch.shape[0], patch.shape[1], patch.shape[2]
        tokens = find_key(sd, 'position_embeddings', where).shape[1] - 2
        grid = math.isqrt(tokens)
        if grid * grid != tokens:
            raise ConversionError(f'{where}: {tokens} patch tokens do not form a square grid')
        depth = len({m.group(1) for k in sd for m in [re.search(r'\.layers\.(\d+)\.', k)] if m})
        mlp = find_key(sd, 'layers.0.mlp.fc1.weight', where).shape[0]
        latent = find_key(sd, 'encoder.mu.weight', where).shape[0]
        image_size = grid * p
        table = find_key(sd, 'decoder.fc2.weight', where).shape[0] // (image_size // 16) ** 2
        cfg = dict(type='CVAE', in_channels=cin, image_size=image_size, patch_size=p,
                   embed_dim=dim, depth=depth, num_heads=8, mlp_ratio=mlp / dim,
                   latent_dim=latent)
        if table != cin:
            if (cin, table) != (4, 3):
                raise ConversionError(f'{where}: decoder built for {table} bands but the encoder '
                                      f'reads {cin}; no crbench layout matches')
            # The unmodified official VAE(in_channels=4): counts right, cannot run.
            cfg['official_4band_param_layout'] = True
        return cfg
    raise KeyError(f'unknown model {model!r}; choose from {MODEL_NAMES}')


def discriminator_config(model: str, sd: StateDict) -> dict:
    where = f'{model} discriminator'
    if model == 'msda_cr':
        return dict(type='MSDACRDiscriminator',
                    in_channels=find_key(sd, 'layer1_new.0.weight_orig', where).shape[1])
    if model in ('spagan', 'amgan_cr'):
        return dict(type='PatchDiscriminator',
                    in_channels=find_key(sd, 'c0_0.c.weight', where).shape[1],
                    out_channels=find_key(sd, 'c0_1.c.weight', where).shape[1])
    raise KeyError(f'{model} has no discriminator; GAN models are {GAN_MODELS}')


def build_network(cfg: dict, device: str = 'cpu') -> torch.nn.Module:
    from crbench.registry import MODELS
    from crbench.setup_env import register_all_modules
    register_all_modules()
    with torch.device(device):
        return MODELS.build(dict(cfg))


# ---------------------------------------------------------------------------------------
# Official key names (registration order of the official modules)
# ---------------------------------------------------------------------------------------
def _wb(name: str, bias: bool = True) -> List[str]:
    return [f'{name}.weight'] + ([f'{name}.bias'] if bias else [])


def _spagan_generator() -> List[str]:
    """models/gen/SPANet.py ``Generator``: ``gen.gen`` = SPANet."""
    p = 'gen.gen.'
    keys = [p + 'conv_in.0.weight']
    for rnn in ('irnn1', 'irnn2'):
        for side in ('left', 'right', 'up', 'down'):
            keys += _wb(f'{p}SAM1.{rnn}.{side}_weight')
    keys += [p + 'SAM1.conv_in.weight']
    for conv in ('conv1', 'conv2', 'conv3'):
        keys += _wb(f'{p}SAM1.{conv}')
    for conv in ('conv1', 'conv2', 'conv3'):
        keys += _wb(f'{p}SAM1.attention_layer.{conv}')
    keys += [p + 'SAM1.conv_out.weight']
    for block in range(1, 18):
        keys += [f'{p}res_block{block}.group1.conv{i}.weight' for i in (1, 2, 3)]
    return keys + [p + 'conv_out.0.weight']


def _amgan_generator() -> List[str]:
    p = 'gen.gen.'
    keys = [p + 'conv_in.0.weight', p + 'conv_ins.0.weight']
    bottleneck = lambda b: [f'{p}res_block{b}.group1.conv{i}.weight' for i in (1, 2, 3)]  # noqa
    for b in (4, 5, 6):
        keys += bottleneck(b)
    keys += _wb(p + 'det_conv0.0')
    for i in range(1, 6):
        keys += _wb(f'{p}det_conv{i}.0') + _wb(f'{p}det_conv{i}.2')
    for gate in 'ifgo':
        keys += _wb(f'{p}conv_{gate}.0')
    keys += _wb(p + 'det_conv_mask.0')
    for b in (1, 2, 3):
        keys += bottleneck(b)
    return keys + [p + 'conv_out.0.weight']


def _patch_discriminator() -> List[str]:
    p = 'dis.dis.'
    keys = _wb(p + 'c0_0.c') + _wb(p + 'c0_1.c')
    for i in (1, 2, 3):
        keys += _wb(f'{p}c{i}.c') + [f'{p}c{i}.batchnorm.{n}' for n in
                                     ('weight', 'bias', 'running_mean', 'running_var',
                                      'num_batches_tracked')]
    return keys + _wb(p + 'c4')


def _msda_discriminator() -> List[str]:
    sn = lambda n: [f'{n}.0.bias', f'{n}.0.weight_orig', f'{n}.0.weight_u', f'{n}.0.weight_v']  # noqa
    keys = sn('layer1_new')
    for i in (2, 3, 4, 5):
        keys += sn(f'layer{i}')
    keys += ['att.gamma'] + _wb('att.query_conv') + _wb('att.key_conv') + _wb('att.value_conv')
    return keys + sn('layer6')


def _msda_rdb(p: str) -> List[str]:
    dense = lambda n: sum((_wb(f'{p}.{n}.{i}.conv') for i in range(4)), [])  # noqa: E731
    keys = [f'{p}.coefficient'] + dense('residual_dense_layers') + dense('rt_residual_dense_layers')
    keys += _wb(f'{p}.conv_1x1_a') + _wb(f'{p}.conv_1x1_c') + dense('residual_dense_layers_no_style')
    for name in ('conv_1x1_b', 'style', 'conv_1x1_style', 'conv_1x1_style_rt', 'conv_a',
                 'conv_gamma_t', 'conv_beta_t', 'conv_gamma_r', 'conv_beta_r', 'conv_att_A',
                 'conv_att_B', 'conv_r', 'conv_1x1_final', 'ca.ca.0', 'ca.ca.2'):
        keys += _wb(f'{p}.{name}')
    return keys


def _msda_generator() -> List[str]:
    keys = ['coefficient']
    for i in range(3):
        for j in range(5):
            keys += _msda_rdb(f'rdb_module.{i}_{j}')
    for i in (1, 0):
        for j in (3, 4, 5):
            keys += _wb(f'upsample_module.{i}_{j}.deconv') + _wb(f'upsample_module.{i}_{j}.conv')
    for i in (0, 1):
        for j in (0, 1, 2):
            keys += _wb(f'downsample_module.{i}_{j}.conv1') + _wb(f'downsample_module.{i}_{j}.conv2')
    keys += _wb('conv_in') + _wb('conv_out') + _msda_rdb('rdb_in') + _msda_rdb('rdb_out')
    for name in ('conv1', 'conv2_atrous', 'conv3_atrous', 'conv4_atrous', 'conv5_atrous', 'conv6',
                 'offset_conv1', 'offset_conv2'):
        keys += _wb(name)
    for up in ('upsamle1', 'upsamle2'):  # sic: the official attribute names
        keys += _wb(f'{up}.deconv') + _wb(f'{up}.conv')
    return keys + _msda_rdb('rdb_2_1') + _msda_rdb('rdb_1_1')


def _cvae(depth: int) -> List[str]:
    e = 'encoder.'
    keys = [e + 'patch_embedding.position_embeddings', e + 'patch_embedding.mu_tokens',
            e + 'patch_embedding.log_var_tokens'] + _wb(e + 'patch_embedding.patch_embedding')
    for i in range(depth):
        for name in ('attn_norm', 'attn.qkv', 'attn.out', 'mlp_norm', 'mlp.fc1', 'mlp.fc2'):
            keys += _wb(f'{e}encoder.layers.{i}.{name}')
    keys += _wb(e + 'encoder.encoder_norm') + _wb(e + 'mu') + _wb(e + 'log_var')
    keys += _wb('decoder.fc1') + _wb('decoder.fc2')
    conv_prelu = lambda layer, n: sum(  # noqa: E731
        (_wb(f'decoder.{layer}.{2 * k}') + [f'decoder.{layer}.{2 * k + 1}.weight']
         for k in range(n)), [])
    keys += conv_prelu('layer1', 3) + _wb('decoder.up1')
    for i in (2, 3, 4):
        keys += conv_prelu(f'layer{i}', 2) + _wb(f'decoder.up{i}')
    keys += conv_prelu('layer5', 2) + _wb('decoder.layer5.4')
    for i in range(1, 5):
        keys += (_wb(f'decoder.attn_layer{i}.channel_attn.0')
                 + _wb(f'decoder.attn_layer{i}.channel_attn.2'))
    return keys


def official_names(model: str, role: str, cfg: dict) -> List[str]:
    """The official key names of ``model``'s ``role`` network, in registration order."""
    if role == 'discriminator':
        return _msda_discriminator() if model == 'msda_cr' else _patch_discriminator()
    if model == 'spagan':
        return _spagan_generator()
    if model == 'amgan_cr':
        return _amgan_generator()
    if model == 'msda_cr':
        return _msda_generator()
    if model == 'cvae':
        return _cvae(cfg['depth'])
    raise KeyError(f'{model} {role}: no name table (MemoryNet is renamed by rules)')


def name_table(model: str, role: str, cfg: dict) -> 'OrderedDict[str, Tuple[str, torch.Size]]':
    """official key -> (crbench key, shape) for the crbench network ``cfg``.

    The official names are paired with the crbench network's keys of the same module;
    both lists come from code (never from a file), and every pair must be the same kind
    of tensor, so a structural difference is an error of crbench, reported as such.
    """
    target = [(k, v.shape) for k, v in build_network(cfg, device='meta').state_dict().items()]
    names = official_names(model, role, cfg)
    if len(names) != len(target):
        raise ConversionError(f'{model} {role}: the official network has {len(names)} tensors, '
                              f'the crbench network {cfg} {len(target)}; these sizes have no '
                              'official counterpart')
    table = OrderedDict()
    for okey, (ckey, shape) in zip(names, target):
        oleaf, cleaf = okey.rsplit('.', 1)[-1], ckey.rsplit('.', 1)[-1]
        if oleaf != cleaf and cleaf not in LEAF_RENAMES.get(oleaf, ()):
            raise ConversionError(f'internal error: the {model} {role} name table pairs the '
                                  f'official {okey!r} with crbench {ckey!r}')
        table[okey] = (ckey, shape)
    return table


def map_by_name(official: StateDict, table: 'OrderedDict[str, Tuple[str, torch.Size]]',
                where: str) -> StateDict:
    """Rename every official tensor through ``table``; refuse unknown, missing, reordered
    (swapped) and misshapen tensors, naming the keys involved."""
    unknown = [k for k in official if k not in table]
    missing = [k for k in table if k not in official]
    if unknown or missing:
        if len(unknown) == len(missing) == 1:
            raise ConversionError(f'{where}: the file holds {unknown[0]!r}, which the official '
                                  f'network does not have, and lacks {missing[0]!r}: a renamed '
                                  'tensor? Refusing to guess.')
        raise ConversionError(
            f'{where}: the file does not have the official key names of this model '
            f'(unknown: {shorten(unknown) or "none"}; missing: {shorten(missing) or "none"}). '
            'Is it the right model (and the generator/discriminator file in its place)?')
    for (have, want) in zip(official, table):
        if have != want:
            raise ConversionError(
                f'{where}: the file lists {have!r} where the official network registers '
                f'{want!r}: its tensors were swapped or reordered after saving (the official '
                'code writes them in registration order), so which name belongs to which '
                'tensor cannot be trusted. Refusing it.')
    out = OrderedDict()
    for okey, value in official.items():
        ckey, shape = table[okey]
        if tuple(value.shape) != tuple(shape):
            raise ConversionError(f'{where}: {okey!r} has shape {tuple(value.shape)}, crbench '
                                  f'{ckey!r} expects {tuple(shape)}')
        out[ckey] = value
    return out


_MN_PREFIX_RULES: List[Tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r'^shallow_feat(\d)\.'), lambda m: f'shallow{m[1]}.'),
    (re.compile(r'^stage(\d)_encoder\.encoder_level(\d)\.'),
     lambda m: f'encoder{m[1]}.levels.{int(m[2]) - 1}.'),
    (re.compile(r'^stage(\d)_encoder\.down(12|23)\.down\.1\.'),
     lambda m: f'encoder{m[1]}.downs.{0 if m[2] == "12" else 1}.proj.'),
    (re.compile(r'^stage2_encoder\.csff_(enc|dec)(\d)\.'),
     lambda m: f'encoder2.fuse_{m[1]}.{int(m[2]) - 1}.'),
    (re.compile(r'^stage(\d)_decoder\.decoder_level(\d)\.'),
     lambda m: f'decoder{m[1]}.levels.{int(m[2]) - 1}.'),
    (re.compile(r'^stage(\d)_decoder\.skip_attn(\d)\.'),
     lambda m: f'decoder{m[1]}.skips.{int(m[2]) - 1}.'),
    (re.compile(r'^stage(\d)_decoder\.up(21|32)\.up\.1\.'),
     lambda m: f'decoder{m[1]}.ups.{0 if m[2] == "21" else 1}.proj.'),
    (re.compile(r'^stage3_orsnet\.up_(enc|dec)1\.up\.1\.'), lambda m: f'orsnet.up_{m[1]}.1.0.proj.'),
    (re.compile(r'^stage3_orsnet\.up_(enc|dec)2\.(\d)\.up\.1\.'),
     lambda m: f'orsnet.up_{m[1]}.2.{m[2]}.proj.'),
    (re.compile(r'^stage3_orsnet\.conv_(enc|dec)(\d)\.'),
     lambda m: f'orsnet.proj_{m[1]}.{int(m[2]) - 1}.'),
    (re.compile(r'^sam(12|23)\.conv1\.'), lambda m: f'sam{m[1]}.feat.'),
    (re.compile(r'^sam(12|23)\.conv2\.'), lambda m: f'sam{m[1]}.to_img.'),
    (re.compile(r'^sam(12|23)\.conv3\.'), lambda m: f'sam{m[1]}.from_img.'),
    (re.compile(r'^concat(12|23)\.'), lambda m: f'merge{m[1]}.'),
    (re.compile(r'^tail\.'), lambda m: 'tail.'),
]
_MN_CAB_RULES = [('.CA.conv_du.0.', '.ca.down.'), ('.CA.conv_du.2.', '.ca.up.'),
                 ('.body.0.', '.conv1.'), ('.body.1.', '.act.'), ('.body.2.', '.conv2.')]
_MN_ORB = re.compile(r'^stage3_orsnet\.orb(\d)\.body\.(\d+)\.')


def memorynet_key(key: str, num_cab: int = 8) -> str:
    """crbench name of an official MPRNet ("MemoryNet") key."""
    orb = _MN_ORB.match(key)
    if orb:
        i, j = int(orb[1]) - 1, int(orb[2])
        rest = key[orb.end():]
        if j == num_cab:                                   # the conv after the CABs
            return f'orsnet.orbs.{i}.conv.{rest}'
        key = f'orsnet.orbs.{i}.cabs.{j}.{rest}'
    else:
        for pattern, repl in _MN_PREFIX_RULES:
            m = pattern.match(key)
            if m:
                key = repl(m) + key[m.end():]
                break
        else:
            raise ConversionError(f'memorynet: no crbench name for the official key {key!r}')
    for old, new in _MN_CAB_RULES:
        key = key.replace(old, new)
    return key


def map_memorynet(official: StateDict, target: Sequence[Tuple[str, torch.Size]]) -> StateDict:
    target_keys = [k for k, _ in target]
    num_cab = len({k.split('.')[4] for k in target_keys if k.startswith('orsnet.orbs.0.cabs.')})
    renamed = OrderedDict((memorynet_key(k, num_cab), v) for k, v in official.items())
    # One PReLU is shared by every CAB: its slope is stored once per CAB in both
    # layouts (and once more at the top level in crbench). All copies must agree.
    slopes = [v for k, v in renamed.items() if k.endswith('.act.weight')]
    if not slopes:
        raise ConversionError('memorynet: no PReLU slope (…body.1.weight) in the checkpoint')
    if any(not torch.equal(s, slopes[0]) for s in slopes):
        raise ConversionError('memorynet: the PReLU slopes differ between CABs; the official '
                              'MPRNet shares one PReLU, so this is not its checkpoint')
    out = OrderedDict()
    for key in target_keys:
        if key in renamed:
            out[key] = renamed[key]
        elif key == 'act.weight' or key.endswith('.act.weight'):
            out[key] = slopes[0]
    # Renamed keys crbench does not have stay in, so the strict load reports them.
    out.update((k, v) for k, v in renamed.items() if k not in out)
    return out


# ---------------------------------------------------------------------------------------
# Source detection and band-order folding
# ---------------------------------------------------------------------------------------
def detect_source(model: str, sd: StateDict, sha256: str, source: str = 'auto') -> str:
    """``'collection'`` or ``'penn000'`` (module docstring, "Source formats")."""
    if source not in SOURCES:
        raise ValueError(f'unknown --source {source!r}; choose from {SOURCES}')
    release = PENN000_RELEASES.get(sha256)
    if source == 'auto':
        if release:
            return 'penn000'
        if model == 'spagan' and find_key(sd, 'conv_in.0.weight', 'spagan generator').shape[1] == 3:
            raise ConversionError(
                'a 3-band SpA-GAN generator (gen.gen.*): the collection and Penn000/'
                'SpA-GAN_for_cloud_removal name their tensors alike but feed RGB at 256 px '
                'and BGR at 512 px respectively, and the file does not say which; pass '
                '--source collection or --source penn000')
        return 'collection'
    if source == 'penn000' and model != 'spagan':
        raise ValueError('--source penn000 is the SpA-GAN repository; use it with spagan')
    return source


def reverse_bands(state: StateDict, keys_in: Sequence[str], keys_out: Sequence[str]) -> None:
    """Reverse the input channels of ``keys_in`` (conv weights, dim 1) and the output
    channels of ``keys_out`` (weights and biases, dim 0) in place: BGR <-> RGB."""
    for key in keys_in:
        state[key] = state[key].flip(1).contiguous()
    for key in keys_out:
        if key in state:
            state[key] = state[key].flip(0).contiguous()


# ---------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------
def strict_load(network: torch.nn.Module, sd: StateDict, where: str) -> None:
    """Load strictly; fail listing missing/unexpected keys."""
    result = network.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ConversionError(f'{where}: the converted state dict does not load strictly '
                              f'({len(result.missing_keys)} missing: '
                              f'{shorten(result.missing_keys)}; '
                              f'{len(result.unexpected_keys)} unexpected: '
                              f'{shorten(result.unexpected_keys)})')


def convert_network(model: str, official: StateDict, cfg: dict, role: str) -> StateDict:
    where = f'{model} {role}'
    if model == 'memorynet':
        target = [(k, v.shape) for k, v in build_network(cfg, device='meta').state_dict().items()]
        converted = map_memorynet(official, target)
    else:
        converted = map_by_name(official, name_table(model, role, cfg), where)
    strict_load(build_network(cfg), converted, where)
    return converted


def convert(model: str, generator_path: str, discriminator_path: Optional[str] = None,
            source: str = 'auto') -> dict:
    """Convert official checkpoint file(s); returns ``{'state_dict', 'meta'}``."""
    from crbench.engine.compat import file_sha256
    if model not in MODEL_NAMES:
        raise KeyError(f'unknown model {model!r}; choose from {MODEL_NAMES}')
    if discriminator_path and model not in GAN_MODELS:
        raise ValueError(f'{model} has no discriminator; only {GAN_MODELS} do')
    gen_sd = read_state_dict(generator_path, 'generator checkpoint')
    source = detect_source(model, gen_sd, file_sha256(generator_path), source)
    gen_cfg = generator_config(model, gen_sd)
    generator = convert_network(model, gen_sd, gen_cfg, 'generator')
    discriminator, dis_cfg = None, None
    if discriminator_path:
        dis_sd = read_state_dict(discriminator_path, 'discriminator checkpoint')
        dis_cfg = discriminator_config(model, dis_sd)
        discriminator = convert_network(model, dis_sd, dis_cfg, 'discriminator')
    conventions = dict(CONVENTIONS[source])
    if conventions['band_order'] == 'BGR':
        reverse_bands(generator, ['conv_in.weight'], ['conv_out.weight', 'conv_out.bias'])
        if discriminator is not None:  # D sees (cloudy, image), both BGR officially
            reverse_bands(discriminator, ['c0_0.c.weight', 'c0_1.c.weight'], [])
        conventions.update(band_order='RGB', folded='official BGR network: input channels of '
                           'the first convolution and output channels of the last reversed')
    state = OrderedDict(('generator.' + k, v) for k, v in generator.items())
    if discriminator is not None:
        state.update(('discriminator.' + k, v) for k, v in discriminator.items())
    meta = conversion_meta(
        f'convert_collection.py {model}', PENN000_REPO if source == 'penn000' else OFFICIAL_REPO,
        'penn000_spagan' if source == 'penn000' else 'collection',
        dict(generator=generator_path, discriminator=discriminator_path), conventions,
        model=model, generator=gen_cfg, **({'discriminator': dis_cfg} if dis_cfg else {}))
    if source == 'penn000' and PENN000_RELEASES.get(meta['sources']['generator']['sha256']):
        meta['trained_on'] = PENN000_RELEASES[meta['sources']['generator']['sha256']]
    if gen_cfg.get('official_4band_param_layout'):
        print('warning: this CVAE was built by the unmodified official code for 4 bands (3-band '
              'decoder table); crbench loads it with official_4band_param_layout=True, which '
              'cannot run forward, as the official model could not.')
    return {'state_dict': state, 'meta': meta}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', choices=MODEL_NAMES)
    parser.add_argument('generator', help='official generator checkpoint (gen_model_epoch_N.pth)')
    parser.add_argument('out', help='crbench checkpoint to write')
    parser.add_argument('--discriminator', help='official discriminator checkpoint (GANs only)')
    parser.add_argument('--source', choices=SOURCES, default='auto',
                        help='which repository trained the weights (auto: recognise it)')
    return parser.parse_args(argv)


def summary(checkpoint: dict, out: str) -> str:
    meta = checkpoint['meta']
    conv = meta['input_conventions']
    lines = [f'convert_collection: found {meta["source_format_description"]}']
    if conv.get('folded'):
        lines.append(f'convert_collection: folded into the weights: {conv["folded"]}')
    lines.append(f'wrote {out}: {len(checkpoint["state_dict"])} tensors, generator '
                 f'{meta["generator"]}, value range {conv["value_range"]}, trained at '
                 f'{conv["training_resolution"]} px')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_converter(
        'convert_collection',
        lambda: convert(args.model, args.generator, args.discriminator, args.source),
        args.out, lambda checkpoint: summary(checkpoint, args.out), errors=(KeyError, ValueError))
