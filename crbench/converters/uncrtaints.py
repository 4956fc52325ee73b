"""Converter for official UnCRtainTS checkpoints (PatrickTUM/UnCRtainTS).

    python tools/model_converters/convert_uncrtaints.py monotemporalL2/model.pth.tar \\
        work_dirs/uncrtaints_l2_sen12mscr_official.pth --scale-by 10

The official training script saves ``{'epoch', 'state_dict' (keys 'netG.<name>'),
'state_dict_G' (the network's own state dict), 'optimizer_G', 'scheduler_G'}``; the network
state dict is read from ``state_dict_G`` (else from ``state_dict`` without 'netG.'). Files are
read with ``torch.load(weights_only=True)``, so a checkpoint can never run code.

Every official key is renamed by the name table ``OFFICIAL_TO_CRBENCH`` (regular expressions
matched in full); a key that matches no rule, a crbench key that receives no tensor, and a
shape mismatch are errors naming the key. The L-TAE input projection is a 1×1 Conv1d
officially and a Linear in crbench (its kernel axis is dropped). The hyper-parameters are
read from the tensors (bands, heads, widths, block counts, norms, mono-/multi-temporal); the
head's rows are split into mean and variance by ``--covariance`` ('diag' by default, 'none'
for the L2 models) and ``--bands``. The converted network is loaded strictly into a freshly
built crbench ``UnCRtainTS`` before anything is written.

The output is ``{'state_dict': {'generator.<key>': ...}, 'meta': {...}}``, the layout of
``UncertaintyRestorer``; official models take inputs in [0, 1]·scale_by, which is what the
configs in configs/uncrtaints/ feed (``network_range=(0, 1)``, ``scale_by`` in the model).
``meta`` has the fields of :func:`crbench.converters.common.conversion_meta` (source format
``uncrtaints_official``, ``input_conventions.value_range`` [0, 1]) plus the network config.
"""
import argparse
import re
import sys
from collections import OrderedDict
from typing import Optional

import torch

from .common import (ConversionError, StateDict, apply_rules, conversion_meta, load_file,
                     run_converter, shorten)

OFFICIAL_REPO = 'PatrickTUM/UnCRtainTS'
SOURCE_FORMAT = 'uncrtaints_official'

_MBCONV = {  # official PreNorm(Sequential) index -> crbench MBConvBlock attribute
    'norm': 'pre_norm', 'fn.0': 'expand', 'fn.1': 'expand_norm', 'fn.3': 'depthwise',
    'fn.4': 'depthwise_norm', 'fn.6.fc.0': 'se.reduce', 'fn.6.fc.2': 'se.expand',
    'fn.7': 'project', 'fn.8': 'project_norm'}
_LEAF = r'(weight|bias|running_mean|running_var|num_batches_tracked)'

#: (official key pattern, crbench key template), matched in full.
OFFICIAL_TO_CRBENCH = [
    (rf'in_conv\.conv\.conv\.0\.{_LEAF}', r'stem.0.\1'),
    (rf'in_conv\.conv\.conv\.1\.{_LEAF}', r'stem.1.\1'),
    (rf'temporal_encoder\.in_norm\.{_LEAF}', r'attention.in_norm.\1'),
    (rf'temporal_encoder\.inconv\.{_LEAF}', r'attention.in_proj.\1'),
    (r'temporal_encoder\.attention_heads\.Q', 'attention.queries'),
    (rf'temporal_encoder\.attention_heads\.fc1_k\.{_LEAF}', r'attention.key_proj.\1'),
    (rf'out_conv\.conv\.conv\.0\.{_LEAF}', r'head.\1'),
] + [
    (rf'{off_list}\.(\d+)\.conv\.{re.escape(off)}\.{_LEAF}', rf'{ours_list}.\1.{ours}.\2')
    for off_list, ours_list in (('in_block', 'encoder'), ('out_block', 'decoder'))
    for off, ours in _MBCONV.items()
]


def load_official(path: str) -> StateDict:
    """The network state dict of an official checkpoint file."""
    obj = load_file(path)
    if isinstance(obj, dict) and isinstance(obj.get('state_dict_G'), dict):
        obj = obj['state_dict_G']
    elif isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = {k[len('netG.'):] if k.startswith('netG.') else k: v
               for k, v in obj['state_dict'].items()}
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path} holds no UnCRtainTS state dict '
                              "(expected 'state_dict_G' or 'state_dict')")
    bad = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if bad:
        raise ConversionError(f'{path}: entries that are not tensors: {shorten(bad)}')
    return dict(obj)


def crbench_key(key: str) -> str:
    new = apply_rules(key, OFFICIAL_TO_CRBENCH)
    if new is not None:
        return new
    raise ConversionError(f'official key {key!r} has no crbench counterpart (crbench implements '
                          "the MBConv UnCRtainTS with use_v=False, separate_out=False)")


def head_split(rows: int, bands: Optional[int], covariance: Optional[str]):
    """(mean bands, covariance) of a head with ``rows`` outputs."""
    if covariance == 'none':
        covariance = None
    if bands is None:
        bands = {'diag': rows // 2, 'iso': rows - 1, None: rows}[covariance]
    expected = bands + {'diag': bands, 'iso': 1, None: 0}[covariance]
    if rows != expected:
        raise ConversionError(f'the official head has {rows} outputs; {bands} bands with '
                              f'covariance={covariance!r} need {expected}: check --bands and '
                              '--covariance (the official L2 models have covariance none)')
    return bands, covariance


def network_config(sd: StateDict, bands: Optional[int] = None, covariance: Optional[str] = None,
                   scale_by: float = 1.0, positional_encoding: bool = False) -> dict:
    """The crbench ``UnCRtainTS`` config that matches an official state dict."""
    try:
        stem = sd['in_conv.conv.conv.0.weight']
        head = sd['out_conv.conv.conv.0.weight']
    except KeyError as err:
        raise ConversionError(f'official key {err} missing: not an UnCRtainTS state dict')
    out_channels, covariance = head_split(head.shape[0], bands, covariance)

    def blocks(prefix):
        return len({k.split('.')[1] for k in sd if k.startswith(prefix + '.')})

    def norm(prefix):
        return 'batch' if f'{prefix}.0.conv.norm.running_mean' in sd else 'group'

    cfg = dict(type='UnCRtainTS', in_channels=stem.shape[1], out_channels=out_channels,
               covariance=covariance, width=stem.shape[0], encoder_blocks=blocks('in_block'),
               decoder_blocks=blocks('out_block'), encoder_norm=norm('in_block'),
               decoder_norm=norm('out_block'), scale_by=scale_by)
    if 'temporal_encoder.attention_heads.Q' in sd:
        n_head, d_k = sd['temporal_encoder.attention_heads.Q'].shape
        cfg.update(mono_temporal=False, n_head=n_head, d_k=d_k,
                   d_model=sd['temporal_encoder.inconv.weight'].shape[0],
                   positional_encoding=positional_encoding)
    else:
        cfg.update(mono_temporal=True, n_head=1, positional_encoding=False)
    return cfg


def convert_state_dict(sd: StateDict, cfg: dict) -> StateDict:
    """Rename every official tensor; strict-load the result into a crbench network."""
    from crbench.registry import MODELS
    import crbench.models  # noqa: F401  (registers UnCRtainTS)

    out = OrderedDict()
    for key, value in sd.items():
        new = crbench_key(key)
        if new == 'attention.in_proj.weight':
            value = value[..., 0]   # Conv1d k=1 -> Linear
        if new in out:
            raise ConversionError(f'two official keys map to {new!r}')
        out[new] = value
    net = MODELS.build(dict(cfg))
    ours = net.state_dict()
    missing = sorted(set(ours) - set(out))
    unexpected = sorted(set(out) - set(ours))
    shapes = [f'{k}: official {tuple(out[k].shape)} vs crbench {tuple(ours[k].shape)}'
              for k in ours if k in out and out[k].shape != ours[k].shape]
    if missing or unexpected or shapes:
        raise ConversionError(f'checkpoint does not fit {cfg}: missing {shorten(missing)}; '
                              f'unexpected {shorten(unexpected)}; shape mismatches {shapes[:6]}')
    net.load_state_dict(out, strict=True)
    return out


def convert(path: str, bands: Optional[int] = None, covariance: Optional[str] = None,
            scale_by: float = 10.0, positional_encoding: bool = False) -> dict:
    """Convert an official checkpoint file; returns ``{'state_dict', 'meta'}``."""
    sd = load_official(path)
    cfg = network_config(sd, bands, covariance, scale_by, positional_encoding)
    state = OrderedDict(('generator.' + k, v) for k, v in convert_state_dict(sd, cfg).items())
    meta = conversion_meta(
        'convert_uncrtaints.py', OFFICIAL_REPO, SOURCE_FORMAT, dict(checkpoint=path),
        dict(value_range=[0.0, 1.0],
             band_order='RGB (as stored; per date SAR, then optical, as input_keys '
                        'concatenates them)',
             training_resolution=256),
        model='uncrtaints', generator=cfg,
        note='inputs are [0, 1] reflectances times scale_by inside the network: keep '
             'the scale_by of the checkpoint (its conf.json) in the config')
    return {'state_dict': state, 'meta': meta}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint',
                        help='official checkpoint (*.pth.tar of train_reconstruct.py)')
    parser.add_argument('out', help='crbench checkpoint to write')
    parser.add_argument('--bands', type=int, default=None,
                        help='predicted mean bands (default: from the head and --covariance)')
    parser.add_argument('--covariance', choices=('diag', 'iso', 'none'), default='diag',
                        help="the checkpoint's covmode; 'none' for the L2 models (default diag)")
    parser.add_argument('--scale-by', type=float, default=10.0,
                        help="the checkpoint's scale_by (its conf.json; default 10)")
    parser.add_argument('--positional-encoding', action='store_true',
                        help='the checkpoint encodes acquisition dates (SEN12MS-CR-TS models)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_converter(
        'convert_uncrtaints',
        lambda: convert(args.checkpoint, args.bands, args.covariance, args.scale_by,
                        args.positional_encoding), args.out,
        lambda checkpoint: f"wrote {args.out}: {len(checkpoint['state_dict'])} tensors, "
                           f"generator {checkpoint['meta']['generator']}",
        errors=(KeyError, ValueError))


if __name__ == '__main__':
    sys.exit(main())
