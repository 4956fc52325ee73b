#!/usr/bin/env python
"""Convert checkpoints of littlebeen/Cloud-removal-model-collection to crbench.

    python tools/model_converters/convert_collection.py spagan gen_model_epoch_200.pth \\
        work_dirs/spagan_cuhkcr1_official.pth --discriminator dis_model_epoch_200.pth

Models: memorynet, msda_cr, spagan, amgan_cr, cvae. The collection saves
``gen.state_dict()`` (and ``dis.state_dict()`` for the GANs) with
``torch.save``; files are read with ``torch.load(weights_only=True)``, so a
checkpoint can never run code. The output is
``{'state_dict': {'generator.<key>': ..., 'discriminator.<key>': ...}, 'meta': {...}}``,
the layout of crbench's frameworks (``SupervisedRestorer``, ``GANRestorer``,
``CVAERestorer``): use it as ``load_from`` or with ``tools/test.py``.

Key mapping:

* MSDA-CR, SpA-GAN, AMGAN-CR, CVAE and both discriminators: crbench registers
  the parameters and buffers of these networks in the official order with the
  official shapes, so tensors are paired **by position**. Every pair must have
  the same shape and the same last name component (``weight``, ``bias``,
  ``running_mean``, ``weight_orig``, ...), except for the few own parameters
  renamed in ``LEAF_RENAMES``; anything else is an error naming both keys.
* MemoryNet (MPRNet): its modules are organised differently (and one PReLU is
  shared by every CAB), so keys are renamed **by a name table**
  (``memorynet_key``); the shared PReLU slope must be identical everywhere.

Band counts (and the CVAE's sizes) are read from the checkpoint. The converted
networks are loaded strictly into freshly built crbench networks before
anything is written: missing and unexpected keys are printed and fail the
conversion.

The collection trains on images in [0, 1]: run converted weights with
``network_range=(0, 1)`` (the zoo configs of the GAN and CVAE frameworks do).
"""
import argparse
import math
import os
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from crbench.engine.compat import atomic_torch_save, file_sha256  # noqa: E402

OFFICIAL_REPO = 'littlebeen/Cloud-removal-model-collection'
MODEL_NAMES = ('memorynet', 'msda_cr', 'spagan', 'amgan_cr', 'cvae')
GAN_MODELS = ('msda_cr', 'spagan', 'amgan_cr')

#: Official own-parameter names (last key component) and their crbench names.
LEAF_RENAMES = {
    'coefficient': ('mix', 'unused_mix'),            # MSDA-CR grid / RDB mixing weights
    'position_embeddings': ('pos_embed',),           # CVAE ViT
    'mu_tokens': ('mu_token',),
    'log_var_tokens': ('logvar_token',),
}

StateDict = Dict[str, torch.Tensor]


class ConversionError(RuntimeError):
    """The checkpoint does not fit the crbench network; the message says where."""


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
def load_official(path: str) -> StateDict:
    """An official state dict (plain, or under 'state_dict'; 'module.' prefixes removed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    obj = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path} does not hold a state dict (got {type(obj).__name__})')
    bad = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if bad:
        raise ConversionError(f'{path}: entries that are not tensors: {bad[:5]}')
    if all(k.startswith('module.') for k in obj):                 # saved from DataParallel
        obj = OrderedDict((k[len('module.'):], v) for k, v in obj.items())
    return OrderedDict(obj)


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
# Key mapping
# ---------------------------------------------------------------------------------------
def map_by_position(official: StateDict, target: Sequence[Tuple[str, torch.Size]],
                    where: str) -> StateDict:
    """Pair official tensors with crbench keys in order; shapes and leaf names must agree."""
    if len(official) != len(target):
        raise ConversionError(f'{where}: the checkpoint has {len(official)} tensors, the crbench '
                              f'network {len(target)}; it is not this model or these sizes')
    out = OrderedDict()
    for i, ((okey, value), (ckey, shape)) in enumerate(zip(official.items(), target)):
        oleaf, cleaf = okey.rsplit('.', 1)[-1], ckey.rsplit('.', 1)[-1]
        if oleaf != cleaf and cleaf not in LEAF_RENAMES.get(oleaf, ()):
            raise ConversionError(f'{where}: tensor #{i} is {okey!r} in the checkpoint but '
                                  f'{ckey!r} in crbench (different kinds of tensor)')
        if tuple(value.shape) != tuple(shape):
            raise ConversionError(f'{where}: tensor #{i} {okey!r} has shape {tuple(value.shape)}, '
                                  f'crbench {ckey!r} expects {tuple(shape)}')
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
# Conversion
# ---------------------------------------------------------------------------------------
def strict_load(network: torch.nn.Module, sd: StateDict, where: str) -> None:
    """Load strictly; print missing/unexpected keys and shape problems, then fail on any."""
    result = network.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        print(f'{where}: missing keys ({len(result.missing_keys)}): {result.missing_keys}')
        print(f'{where}: unexpected keys ({len(result.unexpected_keys)}): {result.unexpected_keys}')
        raise ConversionError(f'{where}: the converted state dict does not load strictly '
                              f'({len(result.missing_keys)} missing, '
                              f'{len(result.unexpected_keys)} unexpected)')


def convert_network(model: str, official: StateDict, cfg: dict, role: str) -> StateDict:
    network = build_network(cfg, device='meta')
    target = [(k, v.shape) for k, v in network.state_dict().items()]
    where = f'{model} {role}'
    if model == 'memorynet':
        converted = map_memorynet(official, target)
    else:
        converted = map_by_position(official, target, where)
    strict_load(build_network(cfg), converted, where)
    return converted



def convert(model: str, generator_path: str, discriminator_path: Optional[str] = None) -> dict:
    """Convert official checkpoint file(s); returns ``{'state_dict', 'meta'}``."""
    if model not in MODEL_NAMES:
        raise KeyError(f'unknown model {model!r}; choose from {MODEL_NAMES}')
    if discriminator_path and model not in GAN_MODELS:
        raise ValueError(f'{model} has no discriminator; only {GAN_MODELS} do')
    state = OrderedDict()
    gen_sd = load_official(generator_path)
    gen_cfg = generator_config(model, gen_sd)
    for k, v in convert_network(model, gen_sd, gen_cfg, 'generator').items():
        state['generator.' + k] = v
    meta = dict(model=model, official_repo=OFFICIAL_REPO, generator=gen_cfg,
                generator_source=os.path.basename(generator_path),
                generator_sha256=file_sha256(generator_path),
                network_range=[0.0, 1.0],
                note='trained by the official code on [0, 1] images: use network_range=(0, 1)')
    if discriminator_path:
        dis_sd = load_official(discriminator_path)
        dis_cfg = discriminator_config(model, dis_sd)
        for k, v in convert_network(model, dis_sd, dis_cfg, 'discriminator').items():
            state['discriminator.' + k] = v
        meta.update(discriminator=dis_cfg,
                    discriminator_source=os.path.basename(discriminator_path),
                    discriminator_sha256=file_sha256(discriminator_path))
    if gen_cfg.get('official_4band_param_layout'):
        print('warning: this CVAE was built by the unmodified official code for 4 bands (3-band '
              'decoder table); crbench loads it with official_4band_param_layout=True, which '
              'cannot run forward, as the official model could not.')
    try:
        from crbench.version import __version__
        meta['crbench_version'] = __version__
    except ImportError:  # pragma: no cover
        pass
    return {'state_dict': state, 'meta': meta}



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', choices=MODEL_NAMES)
    parser.add_argument('generator', help='official generator checkpoint (gen_model_epoch_N.pth)')
    parser.add_argument('out', help='crbench checkpoint to write')
    parser.add_argument('--discriminator', help='official discriminator checkpoint (GANs only)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        checkpoint = convert(args.model, args.generator, args.discriminator)
    except (ConversionError, FileNotFoundError, KeyError, ValueError) as err:
        print(f'convert_collection: {err}', file=sys.stderr)
        return 1
    atomic_torch_save(checkpoint, args.out)
    n = len(checkpoint['state_dict'])
    print(f'wrote {args.out}: {n} tensors, generator {checkpoint["meta"]["generator"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
