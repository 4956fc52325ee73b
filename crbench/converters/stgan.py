"""STGAN (ermongroup/STGAN) official checkpoints -> crbench, strictly and by name.

The official code saves ``<epoch>_net_G.pth`` / ``<epoch>_net_D.pth`` (``state_dict()`` of
``UnetIndependentBranchedGenerator`` and ``NLayerDiscriminator``). Its three encoder
branches ``down<L>.model_{0,1,2}`` are the same layers saved three times; the converter
takes ``model_0`` and requires the other two to be equal to it. Every other key is renamed
by a fixed rule; unknown, missing or mis-shaped tensors are a :class:`ConversionError`.

Command line: ``python tools/model_converters/convert_stgan.py G.pth OUT.pth [--discriminator D.pth]``.
"""
import argparse
import re
from collections import OrderedDict
from typing import Optional

import torch

from .common import (ConversionError, conversion_meta, read_state_dict, rename_strictly,
                     run_converter, shorten)

OFFICIAL_REPO = 'ermongroup/STGAN'
NUM_DOWNS = 8


def generator_key(key: str, num_downs: int = NUM_DOWNS) -> Optional[str]:
    """crbench name of an official generator key; None for the duplicate branches 1 and 2."""
    m = re.match(r'^down(\d+)\.model_(\d)\.(\d+)\.(.+)$', key)
    if m:
        level, branch, idx, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        if branch != '0':
            return None
        # down1 = [conv]; down2..7 = [lrelu, conv, norm]; innermost = [lrelu, conv]
        return f'encoder.{level - 1}.{idx if level == 1 else idx - 1}.{rest}'
    m = re.match(r'^up(\d+)\.model\.(\d+)\.(.+)$', key)
    if m:
        level, idx, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        # up<L> = [relu, convT, norm] (up1: [relu, convT, tanh]); decoder[num_downs - L]
        if level == 1:
            return f'decoder.{num_downs - 1}.{rest}' if idx == 1 else key
        return f'decoder.{num_downs - level}.{idx - 1}.{rest}'
    return key


def discriminator_key(key: str) -> str:
    return re.sub(r'^model\.', 'body.', key)


def build_network(role: str, device: str = 'cpu') -> torch.nn.Module:
    from crbench.models.reference.stgan import STGANDiscriminator, STGANGenerator
    with torch.device(device):
        if role == 'generator':
            return STGANGenerator(in_channels=4, out_channels=3, ngf=64)
        if role == 'discriminator':
            return STGANDiscriminator(in_channels=3 * 4 + 3, ndf=64)
    raise KeyError(f'unknown role {role!r}; choose generator or discriminator')


def convert_network(official, role: str) -> 'OrderedDict[str, torch.Tensor]':
    """Rename ``official`` for crbench's ``role`` network; strict on names and shapes."""
    rename = generator_key if role == 'generator' else discriminator_key
    if role == 'generator':  # the duplicate branches must equal branch 0, then are dropped
        twins = {key: re.sub(r'\.model_\d\.', '.model_0.', key)
                 for key in official if generator_key(key) is None}
        differ = [f'{key} differs from {twin}' for key, twin in twins.items()
                  if twin not in official or not torch.equal(official[twin], official[key])]
        if differ:
            raise ConversionError(f'STGAN generator: {shorten(differ)}; the official encoder '
                                  'branches share weights, so this is not an official file')
        official = OrderedDict((k, v) for k, v in official.items() if k not in twins)
    return rename_strictly(official, rename, build_network(role, 'meta').state_dict(),
                           f'STGAN {role}', 'Is this an unet_256_independent / basic-D '
                           'checkpoint with --input_nc 4 --norm batch?')


CONVENTIONS = dict(value_range=[-1.0, 1.0], band_order='R, G, B, NIR per date; output R, G, B',
                   folded='nothing', training_resolution=256)


def convert(generator_path: str, discriminator_path: Optional[str] = None) -> dict:
    state = OrderedDict(('generator.' + k, v) for k, v in convert_network(
        read_state_dict(generator_path, 'generator checkpoint'), 'generator').items())
    if discriminator_path:
        state.update(('discriminator.' + k, v) for k, v in convert_network(
            read_state_dict(discriminator_path, 'discriminator checkpoint'), 'discriminator').items())
    meta = conversion_meta('convert_stgan.py', OFFICIAL_REPO, 'stgan_official',
                           dict(generator=generator_path, discriminator=discriminator_path),
                           CONVENTIONS, model='stgan')
    return {'state_dict': state, 'meta': meta}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('generator', help='official <epoch>_net_G.pth')
    p.add_argument('out', help='converted checkpoint to write')
    p.add_argument('--discriminator', help='official <epoch>_net_D.pth')
    args = p.parse_args(argv)
    return run_converter('convert_stgan', lambda: convert(args.generator, args.discriminator),
                         args.out)
