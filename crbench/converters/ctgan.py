"""Converter for come880412/CTGAN checkpoints (and its FS-2 feature-extractor teacher).

    python tools/model_converters/convert_ctgan.py G_epoch97_PSNR21.259.pth \\
        work_dirs/ctgan_sen2mtc_new_official.pth [--discriminator D_epoch97_PSNR21.259.pth]
    python tools/model_converters/convert_ctgan.py Feature_Extrator_FS2.pth \\
        work_dirs/ctgan_fs2_teacher.pth --part feature_extractor

The official training script saves ``GEN.state_dict()`` / ``DIS.state_dict()`` and loads
the cloud-map teacher from ``Feature_Extrator_FS2.pth`` (the generator's
``feature_extractor`` alone). Output: ``{'state_dict': {'generator.<key>': ...,
'discriminator.<key>': ...}, 'meta': {...}}`` (the layout of
:class:`~crbench.models.restorers.ctgan.CTGANRestorer`), or for ``--part
feature_extractor`` the bare :class:`~crbench.models.reference.ctgan.CTGANFeatureExtractor`
keys, which the framework's ``mask_teacher.checkpoint`` reads.

Mapping is by name: every official key is renamed by exactly one rule of
:data:`RULES` (official module path → crbench module path; the leaf ``weight``, ``bias``,
``running_mean``, ... is kept), the result must be exactly the key set of a freshly built
crbench network with the same shapes, and it is loaded strictly before anything is
written. An unknown, missing or duplicated key is refused by name. The conformer width,
(image_size / 4)², is read from the checkpoint.
"""
import argparse
import math
import re
from collections import OrderedDict
from typing import List, Optional, Tuple

import torch

from .common import (ConversionError, StateDict, conversion_meta, read_state_dict,
                     run_converter, shorten)

OFFICIAL_REPO = 'come880412/CTGAN'
SOURCE_FORMAT = 'ctgan_official'
#: The official loader: x / 10000, then (x - 0.5) / 0.5 -> crbench's own [-1, 1].
CONVENTIONS = dict(band_order='R,G,B,NIR', value_range=[-1.0, 1.0], training_resolution=256)

#: Feature extractor: official module path (regex) -> crbench module path.
FE_RULES: List[Tuple[str, str]] = [
    (r'conv_in\.(\d+)', r'stem.\1'),
    (r'cloud_detection\.cloud_det\.(\d+)', r'cloud_map.net.\1'),
    (r'bottle([1-6])\.bottleneck\.(\d+)', lambda m: f'blocks.{int(m[1]) - 1}.{m[2]}'),
    (r'ASPP\.convs\.([0-3])\.(\d+)', r'aspp.branches.\1.\2'),
    (r'ASPP\.convs\.4\.([12])', lambda m: f'aspp.branches.4.proj.{int(m[1]) - 1}'),
    (r'ASPP\.project\.(\d+)', r'aspp.fuse.\1'),
    (r'aux_conv', r'aux_head'),
]
_CONFORMER = r'transformer\.comformer\.'
GENERATOR_RULES: List[Tuple[str, str]] = (
    [(r'feature_extractor\.' + pat, lambda m, rep=rep, pat=pat: 'feature_extractor.'
      + _apply(pat, rep, m[0][len('feature_extractor.'):])) for pat, rep in FE_RULES]
    + [(r'downsampling\.(\d+)', r'pair_encoder.\1'),
       (_CONFORMER + r'(ff[12])\.fn\.fn\.net\.(\d+)', r'conformer.\1.net.\2'),
       (_CONFORMER + r'(ff[12])\.fn\.norm', r'conformer.\1.norm'),
       (_CONFORMER + r'attn\.fn\.(to_q|to_kv|to_out)', r'conformer.attn.\1'),
       (_CONFORMER + r'attn\.fn\.rel_pos_emb', r'conformer.attn.offset_embedding'),
       (_CONFORMER + r'attn\.norm', r'conformer.attn.norm'),
       (_CONFORMER + r'conv\.net\.0', r'conformer.conv.norm'),
       (_CONFORMER + r'conv\.net\.2', r'conformer.conv.pointwise_in'),
       (_CONFORMER + r'conv\.net\.4\.conv', r'conformer.conv.depthwise'),
       (_CONFORMER + r'conv\.net\.5', r'conformer.conv.bn'),
       (_CONFORMER + r'conv\.net\.7', r'conformer.conv.pointwise_out'),
       (_CONFORMER + r'post_norm', r'conformer.norm'),
       (r'model_final\.(\d+)', r'decoder.\1')])
DISCRIMINATOR_RULES: List[Tuple[str, str]] = [(r'discriminator\.(\d+)', r'net.\1')]
RULES = dict(generator=GENERATOR_RULES, discriminator=DISCRIMINATOR_RULES,
             feature_extractor=FE_RULES)
_LEAF = r'\.(weight|bias|running_mean|running_var|num_batches_tracked)'


def _apply(pattern: str, repl, module_path: str) -> Optional[str]:
    m = re.fullmatch(pattern, module_path)
    if m is None:
        return None
    return repl(m) if callable(repl) else m.expand(repl)


def rename(key: str, part: str) -> str:
    """The crbench key of one official key of ``part``; ConversionError when no (or more
    than one) rule matches."""
    m = re.fullmatch(r'(.+)' + _LEAF, key)
    if m is None:
        raise ConversionError(f'{part}: official key {key!r} has no known leaf '
                              '(weight, bias, running_mean, running_var, num_batches_tracked)')
    hits = [new for new in (_apply(p, r, m[1]) for p, r in RULES[part]) if new is not None]
    if len(hits) != 1:
        raise ConversionError(f'{part}: official key {key!r} matches {len(hits)} renaming '
                              'rules; this is not a come880412/CTGAN checkpoint of that part')
    return f'{hits[0]}.{m[2]}'


def build_network(part: str, image_size: int = 256, device='cpu', in_channels: int = 4):
    from crbench.models.reference.ctgan import (CTGANDiscriminator, CTGANFeatureExtractor,
                                                CTGANGenerator)
    with torch.device(device):
        if part == 'generator':
            return CTGANGenerator(image_size=image_size, in_channels=in_channels)
        if part == 'discriminator':
            return CTGANDiscriminator(in_channels=4 * in_channels)
        return CTGANFeatureExtractor(in_channels=in_channels)


def image_size_of(state: StateDict) -> int:
    """The training side from the conformer width (image_size / 4)²."""
    key = 'transformer.comformer.post_norm.weight'
    if key not in state:
        raise ConversionError(f'generator checkpoint has no {key!r}; not a CTGAN generator '
                              f'(first keys: {shorten(state)})')
    side = math.isqrt(state[key].numel())
    if side * side != state[key].numel():
        raise ConversionError(f'{key} has {state[key].numel()} entries, not a square width')
    return 4 * side


def convert_part(state: StateDict, part: str, image_size: Optional[int] = None) -> StateDict:
    """Rename one official state dict and check it against a fresh crbench network."""
    out = OrderedDict()
    for key, value in state.items():
        new = rename(key, part)
        if new in out:
            raise ConversionError(f'{part}: two official keys map to {new!r} (second: {key!r})')
        out[new] = value
    if part == 'generator' and image_size is None:
        image_size = image_size_of(state)
    in_channels = 4
    first = {'generator': 'feature_extractor.stem.0.weight', 'feature_extractor': 'stem.0.weight',
             'discriminator': 'net.0.weight'}[part]
    if first in out:
        in_channels = out[first].shape[1] // (4 if part == 'discriminator' else 1)
    reference = build_network(part, image_size or 256, 'meta', in_channels).state_dict()
    missing, unknown = sorted(set(reference) - set(out)), sorted(set(out) - set(reference))
    if missing or unknown:
        raise ConversionError(f'{part}: the checkpoint does not match crbench\'s network: '
                              f'missing {shorten(missing)}; unexpected {shorten(unknown)}')
    bad = [k for k in reference if reference[k].shape != out[k].shape]
    if bad:
        raise ConversionError(f'{part}: shape mismatch at {shorten(bad)} (e.g. {bad[0]}: '
                              f'{tuple(out[bad[0]].shape)} vs {tuple(reference[bad[0]].shape)})')
    net = build_network(part, image_size or 256, 'cpu', in_channels)
    net.load_state_dict(out, strict=True)
    return OrderedDict((k, out[k]) for k in reference)


def convert(generator: str, discriminator: Optional[str] = None,
            part: str = 'generator') -> dict:
    """``{'state_dict', 'meta'}`` from official files (see the module docstring)."""
    if part == 'feature_extractor':
        state = convert_part(read_state_dict(generator, 'feature extractor'), part)
        sources = dict(feature_extractor=generator)
        meta = conversion_meta('convert_ctgan.py --part feature_extractor', OFFICIAL_REPO,
                               SOURCE_FORMAT, sources, CONVENTIONS)
        return dict(state_dict=state, meta=meta)
    gen = read_state_dict(generator, 'generator')
    state = OrderedDict(('generator.' + k, v) for k, v in convert_part(gen, 'generator').items())
    if discriminator:
        dis = convert_part(read_state_dict(discriminator, 'discriminator'), 'discriminator')
        state.update(('discriminator.' + k, v) for k, v in dis.items())
    meta = conversion_meta('convert_ctgan.py', OFFICIAL_REPO, SOURCE_FORMAT,
                           dict(generator=generator, discriminator=discriminator),
                           dict(CONVENTIONS, training_resolution=image_size_of(gen)))
    return dict(state_dict=state, meta=meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='official G_*.pth (or Feature_Extrator_FS2.pth)')
    parser.add_argument('out', help='converted checkpoint to write')
    parser.add_argument('--discriminator', help='official D_*.pth (optional)')
    parser.add_argument('--part', choices=('generator', 'feature_extractor'),
                        default='generator')
    args = parser.parse_args(argv)
    return run_converter('convert_ctgan',
                         lambda: convert(args.checkpoint, args.discriminator, args.part), args.out)
