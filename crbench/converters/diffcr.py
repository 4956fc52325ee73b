"""Converter for released DiffCR weights (XavierJiezou/DiffCR, Palette-style checkpoints).

    python tools/model_converters/convert_diffcr.py configs/diffcr/diffcr_sen2mtc_new.py \\
        3000_Network_ema.pth work_dirs/diffcr_sen2mtc_new_official.pth

The official trainer saves ``<epoch>_Network.pth`` and ``<epoch>_Network_ema.pth``: each the
plain ``state_dict()`` of its ``Network`` wrapper, i.e. the denoiser under ``denoise_fn.``
plus the wrapper's noise-schedule buffers (``gammas``, ``sqrt_recip_gammas``,
``sqrt_recipm1_gammas``, ``posterior_log_variance_clipped``, ``posterior_mean_coef1``,
``posterior_mean_coef2``), which crbench recomputes from the config and drops here.

The denoiser's names map to :class:`crbench.models.diffusion.networks.DiffCRNAFNet`
by the table below (whole-name rules, applied once); the result is
``{'state_dict': {'network.<key>': ...}, 'meta': {...}}``, exactly the keys of the
``DiffCR`` framework that CONFIG builds. Strict: an official key that no rule maps,
a crbench key nothing maps to, or a shape mismatch fails with the key lists.
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict

import torch

from .common import (ConversionError, StateDict, apply_rules, build_from_config,
                     conversion_meta, read_state_dict, run_converter, shorten)

OFFICIAL_REPO = 'XavierJiezou/DiffCR'
SOURCE_FORMAT = 'diffcr_palette'
#: the Palette data loaders scale RGB images to [-1, 1], crbench's own range
INPUT_CONVENTIONS = dict(value_range=[-1.0, 1.0], band_order='RGB')

#: buffers of the official ``Network`` wrapper (the schedule), recomputed by crbench
SCHEDULE_BUFFERS = ('gammas', 'sqrt_recip_gammas', 'sqrt_recipm1_gammas',
                    'posterior_log_variance_clipped', 'posterior_mean_coef1',
                    'posterior_mean_coef2')

#: official block member -> crbench ``DecoupledNAFBlock`` member
BLOCK_NAMES = {
    'norm1': 'norm_attn', 'norm2': 'norm_ffn', 'conv1': 'expand', 'conv2': 'depthwise',
    'conv3': 'project', 'sca_avg.1': 'attn_avg', 'sca_max.1': 'attn_max', 'conv4': 'ffn_in',
    'conv5': 'ffn_out', 'beta': 'scale_attn', 'gamma': 'scale_ffn', 'time_emb.1': 'time_proj',
}
_MEMBER = '|'.join(re.escape(k) for k in BLOCK_NAMES)

#: (official pattern, crbench replacement) rules of :func:`~.common.apply_rules`
RULES = (
    (r'intro\.(weight|bias)', r'noisy_stem.\1'),
    (r'cond_intro\.(weight|bias)', r'cond_stem.\1'),
    (r'ending\.(weight|bias)', r'head.\1'),
    (r'map\.(0|2)\.(weight|bias)', r'noise_mlp.\1.\2'),
    (r'(downs|cond_downs)\.(\d+)\.(weight|bias)', r'\1.\2.\3'),
    (r'ups\.(\d+)\.0\.weight', r'ups.\1.conv.weight'),
    (rf'(encoders|cond_encoders|decoders)\.(\d+)\.(\d+)\.({_MEMBER})((?:\.weight|\.bias)?)',
     lambda m: f'{m[1]}.{m[2]}.{m[3]}.{BLOCK_NAMES[m[4]]}{m[5]}'),
    (rf'middle_blks\.(\d+)\.({_MEMBER})((?:\.weight|\.bias)?)',
     lambda m: f'middle.{m[1]}.{BLOCK_NAMES[m[2]]}{m[3]}'),
)


def map_key(key: str) -> str:
    """The crbench name of one official denoiser key (``ConversionError`` if none)."""
    new = apply_rules(key, RULES)
    if new is None:
        raise ConversionError(f'official key {key!r} matches no rule of the DiffCR name table')
    return new


def convert_state_dict(official: StateDict) -> StateDict:
    """Official ``Network`` (or bare ``UNet``) state dict -> ``DiffCRNAFNet`` state dict."""
    out: Dict[str, torch.Tensor] = OrderedDict()
    unexpected = []
    for key, value in official.items():
        if key in SCHEDULE_BUFFERS:
            continue
        name = key[len('denoise_fn.'):] if key.startswith('denoise_fn.') else key
        try:
            out[map_key(name)] = value
        except ConversionError:
            unexpected.append(key)
    if unexpected:
        raise ConversionError(f'{len(unexpected)} official keys have no crbench name: '
                              f'{shorten(unexpected)}')
    return out


def check_against(converted: StateDict, expected: StateDict) -> None:
    """Strict: same key set and shapes as ``expected`` (the model built from the config)."""
    missing = [k for k in expected if k not in converted]
    extra = [k for k in converted if k not in expected]
    shapes = [f'{k}: {tuple(converted[k].shape)} vs {tuple(v.shape)}'
              for k, v in expected.items() if k in converted and converted[k].shape != v.shape]
    if missing or extra or shapes:
        raise ConversionError(
            'the checkpoint does not describe the network of CONFIG: '
            f'missing {shorten(missing)}; unexpected {shorten(extra)}; shape mismatches '
            f'{shorten(shapes)}')


def convert(config: str, checkpoint: str) -> dict:
    """``{'state_dict', 'meta'}`` for the ``DiffCR`` framework of ``config`` (strict)."""
    _, model = build_from_config(config, None, 'DiffCR')
    state = convert_state_dict(read_state_dict(checkpoint))
    state = OrderedDict(('network.' + k, v) for k, v in state.items())
    check_against(state, model.state_dict())
    meta = conversion_meta('convert_diffcr.py', OFFICIAL_REPO, SOURCE_FORMAT,
                           dict(checkpoint=checkpoint), INPUT_CONVENTIONS, config=config)
    return dict(state_dict=state, meta=meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='<epoch>_Network.pth or <epoch>_Network_ema.pth')
    parser.add_argument('out')
    args = parser.parse_args(argv)
    return run_converter('convert_diffcr', lambda: convert(args.config, args.checkpoint),
                         args.out, errors=(KeyError,))
