"""Converter for the official GLF-CR checkpoint (xufangchn/GLF-CR).

    python tools/model_converters/convert_glf_cr.py CR_net.pth work_dirs/glf_cr_official.pth

The official training script saves ``{'network': net_G.state_dict()}`` (keys prefixed with
``module.`` when it trained with DataParallel); the published file ``CR_net.pth`` has that
layout. Files are read with ``torch.load(weights_only=True)``, so a checkpoint cannot run code.

Every official key is renamed by the name table ``OFFICIAL_TO_CRBENCH`` (regular expressions
matched in full). Two kinds of official buffers are not weights and are checked, then dropped:
``...attn.relative_position_index`` (must equal crbench's index for the window size) and
``...attn_mask`` of the shifted layers (built officially for one fixed input size; crbench
builds the mask for the size of each input; the stored one must equal crbench's mask for
the size it implies). A key that matches no rule, a crbench key that receives no tensor, or
a shape mismatch is an error naming the key. The hyper-parameters are read from the tensors,
and the converted network is loaded strictly into a freshly built crbench ``GLFCR`` before
anything is written.

The output is ``{'state_dict': {'generator.<key>': ...}, 'meta': {...}}``, the layout of
``SupervisedRestorer``; the official network takes inputs in [0, 1] (optical reflectance /
10000; SAR VV clipped to [-25, 0] dB and VH to [-32.5, 0] dB, each mapped to [0, 1]), which
is what configs/glf_cr/ feed (``network_range=(0, 1)``).
"""
import argparse
import math
import re
from collections import OrderedDict

import torch

from .common import (ConversionError, StateDict, apply_rules, conversion_meta, read_state_dict,
                     run_converter, shorten)

OFFICIAL_REPO = 'xufangchn/GLF-CR'
SOURCE_FORMAT = 'glf_cr_official'
#: how the official code feeds its network (crbench maps its [-1, 1] tensors to this range)
INPUT_CONVENTIONS = dict(value_range=[0.0, 1.0],
                         band_order='13 Sentinel-2 bands (B1..B12, B8A after B8), then S1 VV, VH',
                         training_resolution=128)
_WB = r'(weight|bias)'

#: official sub-module of a dense layer (``RDBs.i.convs.j.``) -> crbench's (``blocks.i.layers.j.``)
_LAYER = {
    'conv.0': 'opt_conv', 'conv_SAR.0': 'sar_conv',
    'attn.qkv': 'attn.opt_qkv', 'attn.qkv_SAR': 'attn.sar_qkv',
    'attn.attn_fuse_1x1conv': 'attn.gate',
    'attn.proj': 'attn.opt_proj', 'attn.proj_SAR': 'attn.sar_proj',
    'norm2': 'opt_norm', 'norm2_SAR': 'sar_norm',
    'mlp.fc1': 'opt_mlp.fc1', 'mlp.fc2': 'opt_mlp.fc2',
    'mlp_SAR.fc1': 'sar_mlp.fc1', 'mlp_SAR.fc2': 'sar_mlp.fc2',
}
#: official DFG sub-module (``DF.i.fac_warp.``) -> crbench's (``fusions.i.kernel_net.``)
_KERNEL_NET = {'0.0': '0.0', '1.stem.0': '1.body.0', '1.stem.2': '1.body.2',
               '2.stem.0': '2.body.0', '2.stem.2': '2.body.2', '3.0': '3.0'}

#: (official key pattern, crbench key template), matched in full.
OFFICIAL_TO_CRBENCH = [
    (rf'SFENet1\.{_WB}', r'opt_stem1.\1'),
    (rf'SFENet2\.{_WB}', r'opt_stem2.\1'),
    (rf'SFENet1_SAR\.{_WB}', r'sar_stem1.\1'),
    (rf'SFENet2_SAR\.{_WB}', r'sar_stem2.\1'),
    (r'RDBs\.(\d+)\.convs\.(\d+)\.attn\.relative_position_bias_table', r'blocks.\1.layers.\2.attn.rel_bias'),
    (rf'RDBs\.(\d+)\.LFF\.{_WB}', r'blocks.\1.opt_fuse.\2'),
    (rf'RDBs\.(\d+)\.LFF_SAR\.{_WB}', r'blocks.\1.sar_fuse.\2'),
    (rf'sar_fuse_1x1conv\.(\d+)\.{_WB}', r'fusions.\1.sar_gate.\2'),
    (rf'opt_distribute_1x1conv\.(\d+)\.{_WB}', r'fusions.\1.opt_gate.\2'),
    (rf'GFF\.(0|1)\.{_WB}', r'global_fuse.\1.\2'),
    (rf'UPNet\.(0|2)\.{_WB}', r'tail.\1.\2'),
] + [
    (rf'RDBs\.(\d+)\.convs\.(\d+)\.{re.escape(off)}\.{_WB}', rf'blocks.\1.layers.\2.{ours}.\3')
    for off, ours in _LAYER.items()
] + [
    (rf'DF\.(\d+)\.fac_warp\.{re.escape(off)}\.{_WB}', rf'fusions.\1.kernel_net.{ours}.\2')
    for off, ours in _KERNEL_NET.items()
]
#: official buffers that crbench derives instead of storing (checked, then dropped)
DERIVED_BUFFERS = (r'RDBs\.\d+\.convs\.\d+\.attn\.relative_position_index',
                   r'RDBs\.\d+\.convs\.\d+\.attn_mask')


def read_official(path: str) -> StateDict:
    """The network state dict of an official checkpoint file (``{'network': ...}``, or a
    bare state dict; a DataParallel ``module.`` prefix removed)."""
    return read_state_dict(path, 'GLF-CR checkpoint', wrapper='network')


def rename(key: str) -> str:
    """crbench key of one official weight key (ConversionError if no rule matches)."""
    new = apply_rules(key, OFFICIAL_TO_CRBENCH)
    if new is None:
        raise ConversionError(f'official key {key!r} matches no rule of the GLF-CR name table')
    return new


def hyper_parameters(official: StateDict) -> dict:
    """GLFCR arguments read from the official tensors."""
    try:
        w1, w1s = official['SFENet1.weight'], official['SFENet1_SAR.weight']
        blocks = sorted({int(k.split('.')[1]) for k in official if k.startswith('RDBs.')})
        layers = sorted({int(k.split('.')[3]) for k in official if k.startswith('RDBs.0.convs.')})
        table = official['RDBs.0.convs.0.attn.relative_position_bias_table']
        growth = official['RDBs.0.convs.0.conv.0.weight'].shape[0]
        hidden = official['RDBs.0.convs.0.mlp.fc1.weight'].shape[0]
        kpn_out = official['DF.0.fac_warp.3.0.weight'].shape[0]
    except KeyError as err:
        raise ConversionError(f'not a GLF-CR state dict: key {err} is missing') from None
    channels = w1.shape[0]
    return dict(opt_channels=w1.shape[1] // 4, sar_channels=w1s.shape[1] // 4, channels=channels,
                growth=growth, num_blocks=len(blocks), num_layers=len(layers),
                num_heads=table.shape[1], window_size=(math.isqrt(table.shape[0]) + 1) // 2,
                mlp_ratio=hidden / growth, kernel_size=math.isqrt(kpn_out // channels))


def check_derived(official: StateDict, net) -> None:
    """The official index/mask buffers must be what crbench derives."""
    from crbench.models.reference.glf_cr import shifted_window_mask
    for key, value in official.items():
        if not any(re.fullmatch(p, key) for p in DERIVED_BUFFERS):
            continue
        i, j = int(key.split('.')[1]), int(key.split('.')[3])
        layer = net.blocks[i].layers[j]
        if key.endswith('relative_position_index'):
            if not torch.equal(value, layer.attn.rel_index.to(value.dtype)):
                raise ConversionError(f'{key} differs from the relative position index crbench '
                                      f'derives for window {layer.window_size}')
            continue
        n_win, n = value.shape[0], layer.window_size ** 2
        side = math.isqrt(n_win) * layer.window_size
        if layer.shift == 0 or value.shape[1:] != (n, n) or side * side != n_win * n:
            raise ConversionError(f'{key} of shape {tuple(value.shape)} does not fit layer '
                                  f'{i}.{j} (window {layer.window_size}, shift {layer.shift})')
        if not torch.equal(value, shifted_window_mask(side, side, layer.window_size, layer.shift)):
            raise ConversionError(f'{key} differs from the shifted-window mask crbench derives '
                                  f'for a {side}×{side} feature map')


def convert(official: StateDict, train_size: int = 128) -> StateDict:
    """crbench ``GLFCR`` state dict of an official one; strict (module docstring)."""
    from crbench.models.reference.glf_cr import GLFCR
    hp = hyper_parameters(official)
    net = GLFCR(**hp, train_size=train_size)
    check_derived(official, net)
    ours = net.state_dict()
    out = OrderedDict()
    for key, value in official.items():
        if any(re.fullmatch(p, key) for p in DERIVED_BUFFERS):
            continue
        new = rename(key)
        if new not in ours:
            raise ConversionError(f'official key {key!r} -> {new!r}, which crbench GLFCR{hp} does '
                                  'not have')
        if new in out:
            raise ConversionError(f'two official keys map to {new!r}')
        if value.shape != ours[new].shape:
            raise ConversionError(f'{key!r} -> {new!r}: shape {tuple(value.shape)} differs from '
                                  f'crbench {tuple(ours[new].shape)}')
        out[new] = value
    missing = [k for k in ours if k not in out]
    if missing:
        raise ConversionError(f'crbench keys without an official tensor: {shorten(missing)}')
    net.load_state_dict(out, strict=True)
    return out


def convert_checkpoint(path: str) -> dict:
    """``{'state_dict': {'generator.<key>': ...}, 'meta': {...}}`` of an official file."""
    official = read_official(path)
    state = convert(official)
    meta = conversion_meta('convert_glf_cr.py', OFFICIAL_REPO, SOURCE_FORMAT,
                           dict(checkpoint=path), INPUT_CONVENTIONS,
                           hyper_parameters=hyper_parameters(official))
    return {'state_dict': OrderedDict(('generator.' + k, v) for k, v in state.items()),
            'meta': meta}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog='convert_glf_cr.py', description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='official checkpoint (CR_net.pth)')
    p.add_argument('dst', help='output crbench checkpoint')
    args = p.parse_args(argv)
    return run_converter(
        'convert_glf_cr', lambda: convert_checkpoint(args.src), args.dst,
        lambda checkpoint: f"wrote {args.dst}: {len(checkpoint['state_dict'])} tensors, "
                           f"GLFCR{checkpoint['meta']['hyper_parameters']}")

