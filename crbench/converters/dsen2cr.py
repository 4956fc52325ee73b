"""Convert a released DSen2-CR Keras checkpoint (.hdf5, ameraner/dsen2-cr) to crbench.

    python tools/model_converters/convert_dsen2cr.py configs/dsen2_cr/dsen2_cr_sen12mscr.py \\
        model_SARcarl.hdf5 work_dirs/dsen2_cr_sen12mscr_official.pth

The output is ``{'state_dict': {'generator.<key>': tensor, ...}, 'meta': {...}}``, exactly
the keys of the ``DSen2CRRestorer`` that CONFIG builds: use it with ``tools/test.py CONFIG
OUT`` or as ``load_from``. The published weights were trained on the official units
(optical / 2000, SAR dB to [0, 2]); the DSen2-CR configs map crbench's [-1, 1] to them
(``optical_range``/``sar_range``) and the SEN12MS-CR config clips SAR as the official code.

Official format (Keras 2.2.4 ``model.save``/``ModelCheckpoint``, HDF5): the weights sit in
group ``model_weights`` (a ``save_weights`` file has them at the root); its attribute
``layer_names`` lists the layers in model order, and each layer group lists its
``weight_names``, e.g. ``conv2d_7/kernel:0``, ``conv2d_7/bias:0``. Every layer with weights
of this network is a ``Conv2D``; Keras names them ``conv2d_<n>`` with a session-wide counter
(``conv2d_1`` … ``conv2d_34`` for B = 16 in a fresh Keras-2 session; Keras 3 starts at
``conv2d``). Counter order is build order: head, then ``conv1``/``conv2`` of each residual
block, then tail. The name table below follows that order and is checked against
``layer_names``. Kernels are H×W×in×out (Keras) and become out×in×H×W (torch).

The conversion is strict: any layer that is not a 3×3 convolution, a count of
convolutions other than 2·B + 2, a counter order that disagrees with the model order, or
a shape mismatch stops it, after printing what was found. Reading needs ``h5py``
(requirements/runtime.txt); the file is only read as data, never executed.
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from .common import ConversionError, build_from_config, conversion_meta, run_converter

OFFICIAL_REPO = 'ameraner/dsen2-cr'
CRBENCH_PREFIX = 'generator.'    # DSen2CRRestorer.generator
SOURCE_FORMAT = 'dsen2cr_keras_hdf5'
KERAS_CONV = re.compile(r'^conv2d(?:_(\d+))?$')

KerasLayers = Dict[str, Dict[str, np.ndarray]]   # layer name -> {'kernel'|'bias': array}


def _text(value) -> str:
    return value.decode('utf8') if isinstance(value, bytes) else str(value)


def read_keras_h5(path: str) -> KerasLayers:
    """Layer name -> {short weight name: array}, in the file's model order."""
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - h5py is a pinned runtime dependency
        raise ConversionError('reading Keras .hdf5 files needs h5py: pip install '
                              'h5py (pinned in requirements/runtime.txt)') from err
    if not osp.isfile(path):
        raise FileNotFoundError(f'no such checkpoint: {path}')
    try:
        f = h5py.File(path, 'r')
    except OSError as err:
        raise ConversionError(f'{path} is not an HDF5 file ({err}); the official DSen2-CR '
                              'weights are a Keras .hdf5 checkpoint') from err
    with f:
        root = f['model_weights'] if 'model_weights' in f else f
        if 'layer_names' not in root.attrs:
            raise ConversionError(f'{path} has no Keras layer list (attribute layer_names); '
                                  'is it a Keras model or weights file?')
        layers: KerasLayers = OrderedDict()
        for layer in (_text(n) for n in root.attrs['layer_names']):
            group = root[layer]
            weights = OrderedDict()
            for full in (_text(n) for n in group.attrs.get('weight_names', [])):
                short = full.split('/')[-1].split(':')[0]      # conv2d_7/kernel:0 -> kernel
                weights[short] = np.asarray(group[full])
            layers[layer] = weights
    return layers


def conv_layer_order(layers: Mapping[str, Mapping[str, np.ndarray]]) -> Tuple[List[str], List[str]]:
    """(conv layers in Keras counter order, layers with weights that are not convs)."""
    convs, others = [], []
    for name, weights in layers.items():
        if not weights:
            continue   # inputs, activations, Lambda, Add, Concatenate
        match = KERAS_CONV.match(name)
        if match and set(weights) == {'kernel', 'bias'} and weights['kernel'].ndim == 4:
            convs.append((int(match.group(1) or 0), name))
        else:
            others.append(f'{name} ({", ".join(sorted(weights))})')
    return [name for _, name in sorted(convs)], others


def crbench_conv_names(num_blocks: int) -> List[str]:
    """crbench's DSen2CR convolutions in build order (the official order)."""
    names = ['head']
    for i in range(num_blocks):
        names += [f'blocks.{i}.conv1', f'blocks.{i}.conv2']
    return names + ['tail']


def map_keras_layers(layers: Mapping[str, Mapping[str, np.ndarray]], num_blocks: int,
                     prefix: str = CRBENCH_PREFIX) -> Tuple['OrderedDict[str, torch.Tensor]',
                                                            List[Tuple[str, str]]]:
    """Name-mapped state dict and the (official layer, crbench module) table."""
    convs, others = conv_layer_order(layers)
    targets = crbench_conv_names(num_blocks)
    model_order = [n for n in layers if n in set(convs)]
    problems = []
    if others:
        problems.append(f'layers with weights that are not Conv2D: {others}')
    if len(convs) != len(targets):
        problems.append(f'{len(convs)} Conv2D layers, but DSen2-CR with B = {num_blocks} has '
                        f'{len(targets)} (head, 2 per block, tail): set num_blocks to the '
                        'checkpoint\'s B')
    elif model_order != convs:
        problems.append('the Keras counter order of the Conv2D names differs from the model '
                        f'order: {convs[:4]}... vs {model_order[:4]}...')
    if problems:
        raise ConversionError('; '.join(problems))
    state: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    table = []
    for keras_name, module in zip(convs, targets):
        kernel = np.asarray(layers[keras_name]['kernel'], dtype=np.float32)
        bias = np.asarray(layers[keras_name]['bias'], dtype=np.float32)
        state[f'{prefix}{module}.weight'] = torch.from_numpy(
            np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))        # HWIO -> OIHW
        state[f'{prefix}{module}.bias'] = torch.from_numpy(bias.copy())
        table.append((keras_name, module))
    return state, table


def convert(config: str, checkpoint: str, cfg_options: Optional[dict] = None) -> dict:
    cfg, model = build_from_config(config, cfg_options, 'DSen2CRRestorer',
                                   'pass a configs/dsen2_cr/ config')
    num_blocks = len(model.generator.blocks)
    state, table = map_keras_layers(read_keras_h5(checkpoint), num_blocks)
    target = model.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [f'{k}: checkpoint {tuple(v.shape)}, crbench {tuple(target[k].shape)}'
              for k, v in state.items() if k in target and v.shape != target[k].shape]
    print(f'{len(table)} Conv2D layers: {table[0][0]} -> {table[0][1]}, ..., '
          f'{table[-1][0]} -> {table[-1][1]}')
    if missing or unexpected or shapes:
        raise ConversionError(f'the checkpoint does not load strictly into {config}: missing '
                              f'{missing}, unexpected {unexpected}, shape mismatches {shapes}; '
                              'check optical_channels / sar_channels / features against the '
                              'checkpoint (the SAR variant has 15 input bands, the optical-only '
                              'one 13)')
    model.load_state_dict(state, strict=True, assign=True)
    # No value_range: the DSen2-CR configs already map crbench's [-1, 1] to the official
    # units (optical_range, sar_range). The official code trained on 128 x 128 crops.
    meta = conversion_meta('convert_dsen2cr.py', OFFICIAL_REPO, SOURCE_FORMAT,
                           dict(checkpoint=checkpoint),
                           dict(training_resolution=128),
                           config=config, network=cfg.model.generator.get('type'),
                           name_table={k: v for k, v in table})
    return {'state_dict': state, 'meta': meta}


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='crbench DSen2-CR config, e.g. '
                        'configs/dsen2_cr/dsen2_cr_sen12mscr.py')
    parser.add_argument('checkpoint', help='official Keras checkpoint (.hdf5)')
    parser.add_argument('out', help='crbench checkpoint to write (.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.generator.sar_channels=0 '
                        'for the official optical-only weights')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_converter('convert_dsen2cr',
                         lambda: convert(args.config, args.checkpoint, args.cfg_options), args.out)
