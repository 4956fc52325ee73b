"""Converter for official DE checkpoints (littlebeen/Diffusion-Enhancement-for-CR).

    python tools/model_converters/convert_de.py configs/de/de_memorynet_rice1.py \\
        model200000.pt work_dirs/de_memorynet_rice1_official.pth

The official training loop (guided-diffusion ``TrainLoop.save``) writes plain state
dicts of its ``SuperResModel``: ``model{step}.pt`` (raw) and ``ema_{rate}_{step}.pt``
(EMA), with the same names. That model holds both of DE's networks: the conditional
noise predictor (ADM U-Net: ``time_embed.*``, ``input_blocks.*``, ``middle_block.*``,
``output_blocks.*``, ``out.*``) and, under ``sjlnet.*``, the weight-allocation network
(``WeightCaculate``, same module layout). crbench's ``DECNP`` and ``DEWeightNet`` use
the ADM module names (``crbench/models/diffusion/networks/adm_unet.py``), so the name
rule is: ``sjlnet.<key>`` -> ``weight_net.<key>``, every other ``<key>`` ->
``cnp.<key>``. A pure-diffusion checkpoint (``UNetModel``, no ``sjlnet.*``) converts for
a ``fusion='none'`` config. The reference network E is not in these files: convert its
own checkpoint with ``convert_collection.py`` and set ``reference_checkpoint``.

Conventions of the official code (meta ``input_conventions``): images read with
scikit-image (RGB band order), scaled to [-1, 1] (``/ 127.5 - 1``), crbench's own range,
so nothing is folded.
"""
import argparse
from collections import OrderedDict
from typing import Optional

import torch

from .common import (SOURCE_FORMATS, ConversionError, StateDict, conversion_meta,
                     read_state_dict, run_converter, shorten)

OFFICIAL_REPO = 'littlebeen/Diffusion-Enhancement-for-CR'
WA_PREFIX = 'sjlnet.'                  # SuperResModel.sjlnet = WeightCaculate(...)
INPUT_CONVENTIONS = dict(band_order='RGB', value_range=[-1.0, 1.0],
                         training_resolution='as the config (official large_size)')


def rename(key: str) -> str:
    """crbench name of an official DE key (module docstring)."""
    if key.startswith(WA_PREFIX):
        return 'weight_net.' + key[len(WA_PREFIX):]
    return 'cnp.' + key


def build_target(config: str, cfg_options: Optional[dict] = None):
    """The config's DE networks (noise predictor and, with fusion='wa', the WA network)
    on the meta device; the reference network is not built (not in these files)."""
    from crbench.apis import load_config
    from crbench.registry import MODELS
    from crbench.setup_env import register_all_modules
    register_all_modules()
    cfg = load_config(config, cfg_options)
    if cfg.model.get('type') != 'DiffusionEnhancement':
        raise ConversionError(f'{config} builds {cfg.model.get("type")!r}, not '
                              'DiffusionEnhancement')
    nets = torch.nn.Module()
    with torch.device('meta'):
        nets.cnp = MODELS.build(cfg.model.cnp)
        if cfg.model.get('fusion', 'wa') == 'wa' and cfg.model.get('weight_net'):
            nets.weight_net = MODELS.build(cfg.model.weight_net)
    return cfg, nets


def convert(config: str, checkpoint: str, cfg_options: Optional[dict] = None) -> dict:
    official = read_state_dict(checkpoint, 'DE checkpoint')
    if not ('input_blocks.0.0.weight' in official and 'time_embed.0.weight' in official):
        raise ConversionError(f'{checkpoint} has no guided-diffusion U-Net keys '
                              f'(input_blocks.0.0.weight, time_embed.0.weight); its first keys '
                              f'are {shorten(official)}. Is it an official DE checkpoint?')
    print(f'convert_de: found {SOURCE_FORMATS["de_guided_diffusion"][0]}'
          f'{"" if any(k.startswith(WA_PREFIX) for k in official) else " (no sjlnet.*: pure diffusion)"}')
    cfg, nets = build_target(config, cfg_options)
    converted: StateDict = OrderedDict((rename(k), v) for k, v in official.items())
    target = nets.state_dict()
    missing = [k for k in target if k not in converted]
    unexpected = [k for k in converted if k not in target]
    shapes = [f'{k}: checkpoint {tuple(v.shape)}, crbench {tuple(target[k].shape)}'
              for k, v in converted.items() if k in target and v.shape != target[k].shape]
    if missing or unexpected or shapes:
        def official_name(k):
            return WA_PREFIX + k[len('weight_net.'):] if k.startswith('weight_net.') else k[4:]
        raise ConversionError(
            f'{checkpoint} does not load strictly into the DE networks of {config}: '
            f'{len(missing)} missing (official names: {shorten(official_name(k) for k in missing)}), '
            f'{len(unexpected)} unexpected ({shorten(official_name(k) for k in unexpected)}), '
            f'{len(shapes)} shape mismatches ({shorten(shapes, 3)}); check the config\'s bands, '
            "and fusion='none' for a checkpoint without sjlnet.*")
    nets.load_state_dict(converted, strict=True, assign=True)
    meta = conversion_meta('convert_de.py', OFFICIAL_REPO, 'de_guided_diffusion',
                           dict(checkpoint=checkpoint), INPUT_CONVENTIONS, config=config,
                           networks=sorted({k.split('.', 1)[0] for k in converted}))
    return {'state_dict': converted, 'meta': meta}


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='crbench DE config describing the networks')
    parser.add_argument('checkpoint', help='official model{step}.pt or ema_{rate}_{step}.pt')
    parser.add_argument('out', help='crbench checkpoint to write (.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.cnp.num_bands=4')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_converter(
        'convert_de', lambda: convert(args.config, args.checkpoint, args.cfg_options), args.out,
        lambda checkpoint: f"wrote {args.out}: {len(checkpoint['state_dict'])} tensors "
                           f"({', '.join(checkpoint['meta']['networks'])})")
