"""Converter for released EMRDM (Ly403/EMRDM, Lightning) checkpoints.

    python tools/model_converters/convert_emrdm.py configs/emrdm/emrdm_cuhkcr2.py \\
        cuhkv2.ckpt work_dirs/emrdm_cuhkcr2_official.pth --ema

The output is ``{'state_dict': {'network.<key>': tensor, ...}, 'meta': {...}}``,
exactly the keys of the ``EMRDM`` framework that CONFIG builds: use it with
``tools/test.py CONFIG OUT`` or as ``load_from``. The EMRDM configs test with the
``EMAHook``, which copies a checkpoint's ``state_dict`` into the averaged model, so
whichever weights were converted are the ones evaluated.

Official naming (read from Ly403/EMRDM @ 2d24cc3, ``sgm/``):

* ``sgm/models/diffusion.py`` ``DiffusionEngine.__init__``: ``self.model =
  <network_wrapper>(network)``, and every wrapper of
  ``sgm/modules/diffusionmodules/wrappers.py`` (``IdentityWrapper`` and its
  subclasses ``CloudRemovalWrapper``, ``TemporalCloudRemovalWrapper``) stores the
  network as ``self.diffusion_model``: the raw weights are
  ``state_dict['model.diffusion_model.<network key>']`` (parameters and buffers,
  e.g. the Fourier features ``time_emb.weight``). The network classes
  (``ImageTransformerDenoiserModel[Interface]``,
  ``ImageTemporalTransformerDenoiserModel``) use the module names of crbench's
  ``HDiT`` / ``TemporalHDiT``, so ``<network key>`` is crbench's key.
* ``use_ema: True`` adds ``self.model_ema = LitEma(self.model)``
  (``sgm/modules/ema.py``): one buffer per trainable parameter of ``self.model``
  named ``name.replace('.', '')`` (``diffusion_model.patch_in.proj.weight`` ->
  ``model_ema.diffusion_modelpatch_inprojweight``), plus ``model_ema.decay`` and
  ``model_ema.num_updates``. LitEma has no copy of buffers: with ``--ema`` the
  network's buffers come from ``model.diffusion_model.``.

Key report: every official key is either used, or not used for a known reason (the
other weight set; LitEma's ``decay``/``num_updates``; ``loss_fn.`` modules, which
only compute training losses), or unexpected. The conversion is strict: it fails,
after printing the lists, if any crbench key is missing, any official key is
unexpected (e.g. a trainable conditioner crbench does not have), or a shape
differs (CONFIG does not describe the checkpoint's network).

Loading is safe: ``torch.load(weights_only=True)``, so the checkpoint cannot run
code. A Lightning checkpoint may also pickle other objects (hyper-parameters,
callback states); then the load is refused with the names of those objects, and
there are two ways on:

1. extract the state dict where the checkpoint is trusted, e.g.
   ``python -c "import torch; torch.save(torch.load('x.ckpt', map_location='cpu',
   weights_only=False)['state_dict'], 'x_state_dict.pth')"``, and convert that file;
2. ``--stub-objects``: load again with ``weights_only=True``, with each refused
   global replaced by an inert placeholder class (it accepts any arguments and
   state and does nothing), so nothing of the file is ever executed; only the
   tensors of ``state_dict`` are used. Files naming globals of ``os``/``sys``
   (which torch never loads) are refused.
"""
import argparse
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .common import (SOURCE_FORMATS, ConversionError, StateDict, build_from_config,
                     conversion_meta, run_converter)

OFFICIAL_REPO = 'Ly403/EMRDM'
NET_PREFIX = 'model.diffusion_model.'   # DiffusionEngine.model (wrapper) .diffusion_model
EMA_PREFIX = 'model_ema.'               # DiffusionEngine.model_ema (LitEma)
EMA_WRAPPER_NAME = 'diffusion_model.'   # LitEma names start from the wrapper's parameters
EMA_BOOKKEEPING = ('model_ema.decay', 'model_ema.num_updates')
TRAINING_ONLY_PREFIXES = ('loss_fn.', )
CRBENCH_PREFIX = 'network.'             # EMRDM.network
#: EMRDM's data modules scale images to [-1, 1] (crbench's own range), RGB band order;
#: the training resolution is the config's (a note: crbench tests at its pipeline's size).
INPUT_CONVENTIONS = dict(band_order='RGB (as stored)', value_range=[-1.0, 1.0],
                         training_resolution='as the config')
# torch's weights_only loader refuses these modules even when allow-listed
BLOCKED_MODULES = ('sys', 'os', 'posix', 'nt')

# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
def _placeholder(qualified_name: str) -> type:
    """An inert class standing in for a refused global: takes any args/state, does nothing."""

    class Placeholder:
        placeholder_for = qualified_name

        def __new__(cls, *args, **kwargs):
            return object.__new__(cls)

        def __init__(self, *args, **kwargs):
            pass

        def __setstate__(self, state):
            pass

        def __repr__(self):
            return f'<placeholder for {qualified_name}>'

    Placeholder.__qualname__ = Placeholder.__name__ = 'Placeholder_' + qualified_name.replace(
        '.', '_')
    return Placeholder


def load_lightning_checkpoint(path: str, stub_objects: bool = False) -> dict:
    """The checkpoint as loaded by ``torch.load(weights_only=True)`` (module docstring)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # noqa: BLE001 - older formats: the loader's message is enough
            names = []
        if not stub_objects or not names:
            where = f' It pickles these objects: {names}.' if names else ''
            raise ConversionError(
                f'{path} holds more than tensors, so torch.load(weights_only=True) refuses '
                f'it (a pickle could run code).{where} Either extract the state dict where '
                'you trust the file: python -c "import torch; torch.save(torch.load(\'IN\', '
                'map_location=\'cpu\', weights_only=False)[\'state_dict\'], \'OUT.pth\')" '
                'and convert OUT.pth, or pass --stub-objects to load it with those objects '
                'replaced by inert placeholders (nothing of the file is executed). Loader '
                f'message: {str(err).splitlines()[0]}') from None
    blocked = [n for n in names if n.split('.', 1)[0] in BLOCKED_MODULES]
    if blocked:
        raise ConversionError(f'{path} references {blocked}: torch never loads globals of the '
                              f'modules {BLOCKED_MODULES}, and a genuine checkpoint has no '
                              'reason to; refusing it')
    stubs = [(_placeholder(name), name) for name in names]
    print(f'{path}: loading with {len(stubs)} pickled object type(s) replaced by inert '
          f'placeholders: {names}')
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise ConversionError(
            f'{path}: even with placeholders the safe loader refuses it ('
            f'{str(err).splitlines()[0]}); extract the state dict as described in '
            'tools/model_converters/convert_emrdm.py') from None


def official_state_dict(obj) -> StateDict:
    """The Lightning ``state_dict`` (or a plain state dict) of tensors."""
    sd = obj.get('state_dict') if isinstance(obj, dict) and 'state_dict' in obj else obj
    if not isinstance(sd, dict) or not sd:
        raise ConversionError(f'expected a Lightning checkpoint with a "state_dict" or a state '
                              f'dict, got {type(sd).__name__}')
    bad = [k for k, v in sd.items() if not torch.is_tensor(v)]
    if bad:
        raise ConversionError(f'state_dict entries that are not tensors: {bad[:5]}')
    if not any(k.startswith(NET_PREFIX) for k in sd):
        prefixes = sorted({k.split('.', 1)[0] + '.' for k in sd})
        raise ConversionError(f'no key starts with {NET_PREFIX!r} (the official network '
                              f'prefix); the top-level prefixes are {prefixes[:10]}. Is this an '
                              'EMRDM checkpoint?')
    return OrderedDict(sd)


# ---------------------------------------------------------------------------------------
# Key mapping
# ---------------------------------------------------------------------------------------
def litema_name(param_name: str) -> str:
    """LitEma's buffer name of a network parameter: ``model_ema.`` + dots removed."""
    return EMA_PREFIX + (EMA_WRAPPER_NAME + param_name).replace('.', '')


def map_keys(official: StateDict, model: torch.nn.Module, ema: bool
             ) -> Tuple[StateDict, Dict[str, List[str]]]:
    """crbench state dict and the key report (used / not used / unexpected / missing)."""
    network = model.network
    params = [n for n, p in network.named_parameters() if p.requires_grad]
    param_names = set(params)
    ema_names: Dict[str, str] = {}
    for name in params:
        ema_key = litema_name(name)
        if ema_key in ema_names:  # 'a.bc' and 'ab.c' collide without dots
            raise ConversionError(f'LitEma names of {ema_names[ema_key]!r} and {name!r} '
                                  f'coincide ({ema_key!r}); the EMA copy is ambiguous')
        ema_names[ema_key] = name

    converted: StateDict = OrderedDict()
    used, not_used, unexpected = [], [], []
    for key, value in official.items():
        if key.startswith(NET_PREFIX):
            name = key[len(NET_PREFIX):]
            if ema and name in param_names:  # with --ema only buffers come from here
                not_used.append(f'{key} (raw weight; --ema selected)')
                continue
            converted[CRBENCH_PREFIX + name] = value  # unknown names: removed below
            used.append(key)
        elif key in EMA_BOOKKEEPING:
            not_used.append(f'{key} (LitEma bookkeeping)')
        elif key.startswith(EMA_PREFIX):
            if not ema:
                not_used.append(f'{key} (EMA copy; pass --ema to use it)')
            elif key in ema_names:
                converted[CRBENCH_PREFIX + ema_names[key]] = value
                used.append(key)
            else:
                unexpected.append(key)
        elif key.startswith(TRAINING_ONLY_PREFIXES):
            not_used.append(f'{key} (training loss module)')
        else:
            unexpected.append(key)
    if ema and not any(k.startswith(EMA_PREFIX) and k not in EMA_BOOKKEEPING for k in official):
        raise ConversionError('--ema: the checkpoint has no EMA weights (no model_ema.* keys; '
                              'it was trained with use_ema: False); convert without --ema')
    expected = list(model.state_dict())
    missing = [k for k in expected if k not in converted]
    if ema:  # name the LitEma keys the user should have had
        missing = [f'{k} (official {litema_name(k[len(CRBENCH_PREFIX):])})'
                   if k[len(CRBENCH_PREFIX):] in ema_names.values() else k for k in missing]
    extra = [k for k in converted if k not in set(expected)]
    for k in extra:  # raw network keys crbench does not have
        del converted[k]
        unexpected.append(NET_PREFIX + k[len(CRBENCH_PREFIX):])
        used.remove(NET_PREFIX + k[len(CRBENCH_PREFIX):])
    report = dict(used=used, not_used=not_used, unexpected=unexpected, missing=missing)
    return converted, report


def check_shapes(model: torch.nn.Module, converted: StateDict) -> List[str]:
    target = model.state_dict()
    return [f'{k}: checkpoint {tuple(v.shape)}, crbench {tuple(target[k].shape)}'
            for k, v in converted.items() if k in target and v.shape != target[k].shape]


def print_report(report: Dict[str, List[str]], shape_errors: List[str]) -> None:
    print(f"used: {len(report['used'])} official keys")
    print(f"not used ({len(report['not_used'])}):")
    for line in _summarise(report['not_used']):
        print(f'  {line}')
    for title, keys in (('missing', report['missing']), ('unexpected', report['unexpected']),
                        ('shape mismatches', shape_errors)):
        print(f'{title} ({len(keys)}): {keys}')


def _summarise(lines: List[str], limit: int = 6) -> List[str]:
    """Group 'key (reason)' lines by reason, a few keys each."""
    groups: Dict[str, List[str]] = OrderedDict()
    for line in lines:
        key, _, reason = line.partition(' (')
        groups.setdefault(reason.rstrip(')'), []).append(key)
    out = []
    for reason, keys in groups.items():
        more = f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''
        out.append(f'{len(keys)} x {reason}: {", ".join(keys[:limit])}{more}')
    return out


def convert(config: str, checkpoint: str, ema: bool = False, cfg_options: Optional[dict] = None,
            stub_objects: bool = False) -> dict:
    """Convert; returns ``{'state_dict', 'meta'}`` or raises ConversionError after the report."""
    obj = load_lightning_checkpoint(checkpoint, stub_objects)
    official = official_state_dict(obj)
    cfg, model = build_from_config(config, cfg_options, 'EMRDM')
    converted, report = map_keys(official, model, ema)
    shape_errors = check_shapes(model, converted)
    print_report(report, shape_errors)
    if report['missing'] or report['unexpected'] or shape_errors:
        raise ConversionError(
            f'the checkpoint does not load strictly into the EMRDM of {config}: '
            f"{len(report['missing'])} missing, {len(report['unexpected'])} unexpected, "
            f'{len(shape_errors)} shape mismatches (lists above); check that the config '
            '(network, bands) is the one the checkpoint was trained with')
    # the strict load itself (meta tensors: checks names and shapes, allocates nothing)
    model.load_state_dict(converted, strict=True, assign=True)
    if not ema and any(k.startswith(EMA_PREFIX) and k not in EMA_BOOKKEEPING for k in official):
        print('note: the checkpoint also holds EMA weights, which EMRDM reports its results '
              'with; pass --ema to convert those')
    source_format = 'emrdm_lightning_ema' if ema else 'emrdm_lightning_raw'
    print(f'convert_emrdm: found {SOURCE_FORMATS[source_format][0]}')
    meta = conversion_meta(
        'convert_emrdm.py' + (' --ema' if ema else ''), OFFICIAL_REPO, source_format,
        dict(checkpoint=checkpoint), INPUT_CONVENTIONS, weights='ema' if ema else 'raw',
        config=config, network=cfg.model.network.get('type'))
    for key in ('epoch', 'global_step'):
        if isinstance(obj, dict) and isinstance(obj.get(key), int):
            meta[key] = obj[key]
    if ema and 'model_ema.num_updates' in official:
        meta['ema_num_updates'] = int(official['model_ema.num_updates'])
    return {'state_dict': converted, 'meta': meta}


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='crbench EMRDM config describing the network, e.g. '
                        'configs/emrdm/emrdm_cuhkcr2.py')
    parser.add_argument('checkpoint', help='official Lightning checkpoint (.ckpt) or its '
                        'extracted state dict')
    parser.add_argument('out', help='crbench checkpoint to write (.pth)')
    parser.add_argument('--ema', action='store_true',
                        help='convert the EMA weights (model_ema.*), as EMRDM evaluates')
    parser.add_argument('--stub-objects', action='store_true',
                        help='replace pickled non-tensor objects by inert placeholders '
                        '(still weights_only=True; see the module docstring)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.network.in_channels=28')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_converter(
        'convert_emrdm',
        lambda: convert(args.config, args.checkpoint, args.ema, args.cfg_options,
                        args.stub_objects), args.out,
        lambda checkpoint: f"wrote {args.out}: {len(checkpoint['state_dict'])} tensors, "
                           f"{checkpoint['meta']['weights']} weights, "
                           f"{checkpoint['meta']['network']}")

