"""PMAA (XavierJiezou/PMAA) official checkpoints -> crbench, strictly and by name.

The official training script saves ``model_GEN.state_dict()`` of ``PMAA(32, 4)`` with its
batch norms replaced by instance norms (``G_best_*.pth``; the released ``pmaa_new.pth``)
and optionally the discriminator's ``state_dict()``; the frozen cloud-detection teacher of
the attention loss ships as ``data/Feature_Extrator_FS2.pth`` (batch norms). Every official
key is renamed by :data:`RENAMES` (all rules, in order), must exist in crbench's network
with the same shape, and every crbench tensor must be covered; anything else is a
:class:`ConversionError` naming the keys.

Command line: ``python tools/model_converters/convert_pmaa.py GEN.pth OUT.pth
[--discriminator DIS.pth]`` and ``... --teacher Feature_Extrator_FS2.pth OUT.pth``.
"""
import argparse
import re
from collections import OrderedDict
from typing import List, Optional, Tuple

import torch

from .common import conversion_meta, read_state_dict, rename_strictly, run_converter

OFFICIAL_REPO = 'XavierJiezou/PMAA'

#: official key pattern -> crbench key (regex substitutions applied in order).
RENAMES: List[Tuple[str, str]] = [
    # per-date encoder (generator: feature_extractor.*, teacher: no prefix)
    (r'^(feature_extractor\.)?conv_in\.', 'stem.'),
    (r'^(feature_extractor\.)?cloud_detection\.cloud_det\.', 'cloud_head.'),
    (r'^(feature_extractor\.)?bottle([1-6])\.bottleneck\.', None),  # handled in official_to_crbench
    (r'^(feature_extractor\.)?ASPP\.convs\.', 'aspp.branches.'),
    (r'^(feature_extractor\.)?ASPP\.project\.', 'aspp.project.'),
    (r'^(feature_extractor\.)?aux_conv\.', 'aux_head.'),
    # multi-scale attention blocks
    (r'^concat_unet\.', 'fusion.'),
    (r'^other_unet\.', 'refine.'),
    (r'\.proj_1x1\.', '.project_in.'),
    (r'\.spp_dw\.', '.pyramid.'),
    (r'\.conv_dw\.', '.spatial.'),
    (r'\.conv_pw\.', '.pointwise.'),
    (r'\.loc_glo_fus\.', '.inject.'),
    (r'\.last_layer\.', '.merge.'),
    (r'\.local_embedding\.', '.local.'),
    (r'\.global_embedding\.', '.embed.'),
    (r'\.global_act\.', '.gate.'),
    (r'\.res_conv\.', '.project_out.'),
    (r'\.globalatt\.layer_scale_1$', '.global_attention.scale_attn'),
    (r'\.globalatt\.layer_scale_2$', '.global_attention.scale_mlp'),
    (r'\.globalatt\.attn\.norm\.', '.global_attention.attn_norm.'),
    (r'\.globalatt\.attn\.a\.', '.global_attention.attn_gate.'),
    (r'\.globalatt\.attn\.v\.', '.global_attention.attn_value.'),
    (r'\.globalatt\.attn\.proj\.', '.global_attention.attn_proj.'),
    (r'\.globalatt\.mlp\.norm\.', '.global_attention.mlp_norm.'),
    (r'\.globalatt\.mlp\.fc1\.', '.global_attention.mlp_in.'),
    (r'\.globalatt\.mlp\.pos\.', '.global_attention.mlp_pos.'),
    (r'\.globalatt\.mlp\.fc2\.', '.global_attention.mlp_out.'),
    (r'^output_layer\.0\.', 'head.'),
    # discriminator
    (r'^discriminator\.', 'body.'),
]


def official_to_crbench(key: str, role: str) -> str:
    """The crbench name of one official key (``role``: generator, teacher, discriminator)."""
    prefix = 'encoder.' if role == 'generator' and key.startswith('feature_extractor.') else ''
    m = re.match(r'^(feature_extractor\.)?bottle([1-6])\.bottleneck\.(.*)$', key)
    if m:
        return f'{prefix}bottlenecks.{int(m.group(2)) - 1}.body.{m.group(3)}'
    out = key
    for pattern, repl in RENAMES:
        if repl is None:
            continue
        out = re.sub(pattern, repl, out)
    return prefix + out if prefix else out


def build_network(role: str, device: str = 'cpu') -> torch.nn.Module:
    from crbench.models.reference.pmaa import PMAA, PMAADiscriminator, pmaa_teacher
    with torch.device(device):
        if role == 'generator':
            return PMAA(in_channels=4, out_channels=4, dim=32)
        if role == 'teacher':
            return pmaa_teacher(in_channels=4, dim=32)
        if role == 'discriminator':
            return PMAADiscriminator(in_channels=16)
    raise KeyError(f'unknown role {role!r}; choose generator, teacher or discriminator')


def convert_network(official: 'OrderedDict[str, torch.Tensor]', role: str) -> 'OrderedDict':
    """Rename ``official`` for crbench's ``role`` network; strict on names and shapes."""
    return rename_strictly(official, lambda key: official_to_crbench(key, role),
                           build_network(role, 'meta').state_dict(), f'PMAA {role}',
                           'Is this a PMAA(32, 4) checkpoint of the official train_new.py?')


CONVENTIONS = dict(value_range=[-1.0, 1.0], band_order='R, G, B, NIR (x / 10000, then (x - 0.5) / 0.5)',
                   folded='nothing', training_resolution=256)


def convert(generator_path: Optional[str] = None, discriminator_path: Optional[str] = None,
            teacher_path: Optional[str] = None) -> dict:
    """Generator (+ discriminator) -> ``{'state_dict': generator.*/discriminator.*, 'meta'}``;
    teacher alone -> ``{'state_dict': <PMAAFrameEncoder keys>, 'meta'}`` (the file that
    ``PMAARestorer(teacher_checkpoint=...)`` reads)."""
    if teacher_path and (generator_path or discriminator_path):
        raise ValueError('convert the teacher on its own; it is a separate file')
    state = OrderedDict()
    if teacher_path:
        state.update(convert_network(read_state_dict(teacher_path, 'teacher checkpoint'), 'teacher'))
    elif generator_path:
        gen = convert_network(read_state_dict(generator_path, 'generator checkpoint'), 'generator')
        state.update(('generator.' + k, v) for k, v in gen.items())
        if discriminator_path:
            dis = convert_network(read_state_dict(discriminator_path, 'discriminator checkpoint'),
                                  'discriminator')
            state.update(('discriminator.' + k, v) for k, v in dis.items())
    else:
        raise ValueError('give a generator checkpoint or --teacher')
    meta = conversion_meta('convert_pmaa.py', OFFICIAL_REPO, 'pmaa_official',
                           dict(generator=generator_path, discriminator=discriminator_path,
                                teacher=teacher_path), CONVENTIONS, model='pmaa')
    return {'state_dict': state, 'meta': meta}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoint', help='official generator .pth (or the teacher with --teacher)')
    p.add_argument('out', help='converted checkpoint to write')
    p.add_argument('--discriminator', help='official discriminator .pth')
    p.add_argument('--teacher', action='store_true',
                   help='CHECKPOINT is the cloud teacher (Feature_Extrator_FS2.pth)')
    args = p.parse_args(argv)
    return run_converter('convert_pmaa',
                         lambda: (convert(teacher_path=args.checkpoint) if args.teacher
                                  else convert(args.checkpoint, args.discriminator)),
                         args.out, errors=(ValueError,))
