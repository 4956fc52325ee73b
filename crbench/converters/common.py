"""What every converter shares: reading a weights file safely, the error type, the
command line's error handling and atomic write, the metadata block written into every
converted checkpoint, and short key lists.

A converted checkpoint is ``{'state_dict': {...}, 'meta': {...}}``. ``meta`` always holds
the block built by :func:`conversion_meta`:

* ``converter``: the command that wrote it (``convert_collection.py spagan``, ...);
* ``official_repo`` and ``source_format``: where the weights come from and the layout the
  converter detected in the file (one of :data:`SOURCE_FORMATS`);
* ``sources``: per input file (``generator``, ``discriminator``, ``checkpoint``) its name
  and sha256;
* ``input_conventions``: how the source code fed its network. ``value_range`` is the
  range of the network's input and output (crbench maps its [-1, 1] tensors to it, see
  :mod:`crbench.engine.checkpoint`); ``band_order`` the band order crbench must feed
  (after any folding); ``folded`` says what the converter folded into the weights (e.g.
  a BGR network made RGB by permuting the channels of its first and last layers);
  ``training_resolution`` the image size the source trained on (pixels; a note, not
  applied: crbench tests at the resolution of the config's pipeline);
* ``crbench_version``.
"""
import os.path as osp
import pickle
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Optional

import torch

StateDict = Dict[str, torch.Tensor]


class ConversionError(RuntimeError):
    """The file does not convert; the message names the keys or the fact that is wrong."""


_TOOL = 'python tools/model_converters/'

#: Every source layout a converter recognises: name -> (description, command). The command
#: is a template of :func:`converter_command` (``{path}``, ``{out}``, ``{config}``, ``{model}``).
SOURCE_FORMATS = {
    'collection': ('littlebeen/Cloud-removal-model-collection raw state dict '
                   '(gen.state_dict() / dis.state_dict())',
                   _TOOL + 'convert_collection.py {model} {path} {out}'),
    'penn000_spagan': ('Penn000/SpA-GAN_for_cloud_removal generator (gen.gen.*, BGR, 512 px)',
                       _TOOL + 'convert_collection.py spagan {path} {out}'),
    'emrdm_lightning_raw': ('Ly403/EMRDM Lightning checkpoint, raw weights '
                            '(model.diffusion_model.*)',
                            _TOOL + 'convert_emrdm.py {config} {path} {out}'),
    'emrdm_lightning_ema': ('Ly403/EMRDM Lightning checkpoint with EMA weights (model_ema.*)',
                            _TOOL + 'convert_emrdm.py {config} {path} {out} --ema'),
    'de_guided_diffusion': ('littlebeen/Diffusion-Enhancement-for-CR guided-diffusion '
                            'checkpoint (SuperResModel U-Net + sjlnet.* weight-allocation net)',
                            _TOOL + 'convert_de.py {config} {path} {out}'),
    'uncrtaints_official': ('PatrickTUM/UnCRtainTS train_reconstruct.py checkpoint '
                            "(state_dict_G / 'netG.' state dict)",
                            _TOOL + 'convert_uncrtaints.py {path} {out}'),
    'dsen2cr_keras_hdf5': ('ameraner/dsen2-cr Keras .hdf5 (model_weights/conv2d_<n>/...)',
                           _TOOL + 'convert_dsen2cr.py {config} {path} {out}'),
    'glf_cr_official': ("xufangchn/GLF-CR checkpoint ({'network': RDN_residual_CR state dict})",
                        _TOOL + 'convert_glf_cr.py {path} {out}'),
    'ctgan_official': ('come880412/CTGAN raw state dict (GEN.state_dict() / DIS.state_dict() / '
                       'Feature_Extrator_FS2.pth)',
                       _TOOL + 'convert_ctgan.py {path} {out}'),
    'pmaa_official': ('XavierJiezou/PMAA raw state dict (PMAA generator with instance norms, '
                      'Discriminator, or the FeatureExtractor cloud teacher)',
                      _TOOL + 'convert_pmaa.py {path} {out}'),
    'stgan_official': ('ermongroup/STGAN raw state dict (unet_256_independent generator, '
                       'basic PatchGAN)',
                       _TOOL + 'convert_stgan.py {path} {out}'),
    'diffcr_palette': ('XavierJiezou/DiffCR Palette checkpoint (<epoch>_Network[_ema].pth: '
                       'denoise_fn.* and the schedule buffers)',
                       _TOOL + 'convert_diffcr.py {config} {path} {out}'),
}


def shorten(keys: Iterable[str], limit: int = 6) -> str:
    """``'a', 'b', ... (+N more)``: key lists short enough for an error message."""
    keys = list(keys)
    shown = ', '.join(repr(k) for k in keys[:limit])
    return shown + (f', ... (+{len(keys) - limit} more)' if len(keys) > limit else '')


def load_file(path: str, where: str = 'checkpoint'):
    """``torch.load(path, weights_only=True)`` on the CPU (the file cannot run code); a
    missing file is a FileNotFoundError, an unreadable one a ConversionError, both naming
    ``path``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{where} not found: {path}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ConversionError(f'{path}: cannot read it as a torch checkpoint ({first}); is it '
                              'the official file, completely downloaded?') from None


def read_state_dict(path: str, where: str = 'checkpoint', wrapper: str = 'state_dict') -> StateDict:
    """A state dict of tensors from ``path`` (plain, or under ``wrapper``; a DataParallel
    ``module.`` prefix removed), read by :func:`load_file`. The key order of the file is
    kept."""
    obj = load_file(path, where)
    if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
        obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{path} does not hold a state dict (got {type(obj).__name__})')
    bad = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if bad:
        raise ConversionError(f'{path}: entries that are not tensors: {shorten(bad)}')
    if all(k.startswith('module.') for k in obj):                 # saved from DataParallel
        obj = OrderedDict((k[len('module.'):], v) for k, v in obj.items())
    return OrderedDict(obj)


def build_from_config(config: str, cfg_options: Optional[dict], model_type: str,
                      hint: str = ''):
    """``(cfg, model)``: the model of ``config`` (checked overrides applied, via
    :func:`crbench.apis.load_config`), built on the meta device (names and shapes only, no
    memory). A config of another model type is a ConversionError."""
    from crbench.apis import load_config
    from crbench.registry import MODELS
    from crbench.setup_env import register_all_modules
    register_all_modules()
    cfg = load_config(config, cfg_options)
    if cfg.model.get('type') != model_type:
        raise ConversionError(f'{config} builds {cfg.model.get("type")!r}, not {model_type}'
                              + (f'; {hint}' if hint else ''))
    with torch.device('meta'):
        return cfg, MODELS.build(cfg.model)


def apply_rules(key: str, rules) -> Optional[str]:
    """``key`` renamed by the first ``(pattern, replacement)`` rule whose pattern matches it
    in full (replacement: a ``re`` template, or a function of the match), or None."""
    for pattern, repl in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return repl(match) if callable(repl) else match.expand(repl)
    return None


def rename_strictly(official: StateDict, rename: Callable[[str], str],
                    target: Dict[str, torch.Tensor], where: str, hint: str) -> StateDict:
    """``official`` with every key renamed by ``rename``, strictly onto ``target`` (the
    crbench network's state dict, e.g. built on the meta device): a renamed key crbench
    does not have, a shape mismatch and a crbench tensor nothing maps to are one error
    that lists them and ends with ``hint``."""
    out, unknown, bad_shape = OrderedDict(), [], []
    for key, value in official.items():
        new = rename(key)
        if new not in target:
            unknown.append(f'{key} -> {new}')
        elif tuple(target[new].shape) != tuple(value.shape):
            bad_shape.append(f'{key}: {tuple(value.shape)} vs {tuple(target[new].shape)}')
        else:
            out[new] = value
    missing = [k for k in target if k not in out]
    if unknown or bad_shape or missing:
        raise ConversionError(
            f"{where}: the official state dict does not map strictly onto crbench's network "
            f'({len(unknown)} unknown: {shorten(unknown)}; {len(bad_shape)} shape mismatches: '
            f'{shorten(bad_shape)}; {len(missing)} crbench tensors not covered: '
            f'{shorten(missing)}). {hint}')
    return out


def run_converter(prog: str, convert: Callable[[], dict], out: str,
                  summary: Optional[Callable[[dict], str]] = None, errors: tuple = ()) -> int:
    """The command line every converter shares: ``convert()``, and on bad input (the
    errors above, a config error, ``errors``) print ``prog: message`` and return 2 with
    nothing written; else write ``out`` atomically and print ``summary(checkpoint)``."""
    from crbench.apis import ConfigError
    from crbench.engine.compat import atomic_torch_save
    try:
        checkpoint = convert()
    except (ConversionError, ConfigError, FileNotFoundError, *errors) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return 2  # bad input: the message says what and how to fix it
    atomic_torch_save(checkpoint, out)
    print(summary(checkpoint) if summary else
          f'wrote {out}: {len(checkpoint["state_dict"])} tensors')
    return 0


def conversion_meta(converter: str, official_repo: str, source_format: str,
                    sources: Dict[str, Optional[str]], input_conventions: dict, **extra) -> dict:
    """The metadata block every converter writes (module docstring)."""
    from crbench.engine.compat import file_sha256
    if source_format not in SOURCE_FORMATS:
        raise KeyError(f'unknown source format {source_format!r}')
    meta = dict(converter=converter, official_repo=official_repo, source_format=source_format,
                source_format_description=SOURCE_FORMATS[source_format][0],
                sources={role: dict(file=osp.basename(path), sha256=file_sha256(path))
                         for role, path in sources.items() if path},
                input_conventions=dict(input_conventions))
    meta.update(extra)
    try:
        from crbench.version import __version__
        meta['crbench_version'] = __version__
    except ImportError:  # pragma: no cover
        pass
    return meta


#: sha256 of the generators Penn000 published (pretrained_models/RICE{1,2}/gen_model_epoch_200.pth
#: at commit 63f98668): their key names are the collection's, their conventions are not.
PENN000_RELEASES = {
    '1a9f87f50e4b439b64675d1612f06604a6bc61748f7d9fe6cf252ba371ec3f16': 'RICE1',
    '9706b2e29b331366b1b9b83288ac3d8568bc58efebe1b8dee66a696b99531744': 'RICE2',
}


def detect_source_format(state: StateDict, path: Optional[str] = None) -> Optional[str]:
    """The official layout of an unconverted state dict, or None (used to name the
    converter when such a file is given to a crbench tool). With ``path``, Penn000's
    published SpA-GAN files are recognised by their sha256."""
    if path is not None and osp.isfile(path):
        from crbench.engine.compat import file_sha256
        if file_sha256(path) in PENN000_RELEASES:
            return 'penn000_spagan'
    if isinstance(state.get('network'), dict):       # GLF-CR saves {'network': state dict}
        state = state['network']
    keys = list(state)
    if any(k.startswith('model.diffusion_model.') for k in keys):
        return ('emrdm_lightning_ema' if any(k.startswith('model_ema.') for k in keys)
                else 'emrdm_lightning_raw')
    if any(k.startswith('sjlnet.') for k in keys) or (
            'input_blocks.0.0.weight' in keys and 'time_embed.0.weight' in keys):
        return 'de_guided_diffusion'
    if 'state_dict_G' in state or any(k.startswith(('in_conv.conv.conv.0.', 'netG.in_conv.'))
                                      for k in keys):
        return 'uncrtaints_official'
    # generator markers only: CTGAN's and PMAA's discriminators and cloud teachers share names
    markers = (('SFENet1_SAR.', 'glf_cr_official'), ('transformer.comformer.', 'ctgan_official'),
               ('concat_unet.', 'pmaa_official'), ('down1.model_0.', 'stgan_official'),
               ('denoise_fn.', 'diffcr_palette'), ('cond_intro.', 'diffcr_palette'))
    found = next((name for marker, name in markers if any(k.startswith(marker) for k in keys)),
                 None)
    if found:
        return found
    if any(k.startswith(('gen.gen.', 'dis.dis.')) for k in keys):
        return 'collection'  # or penn000_spagan: the names are the same (see collection.py)
    collection_markers = ('shallow_feat1.0.weight', 'rdb_module.', 'conv_in.weight',
                          'encoder.patch_embedding.', 'layer1_new.0.weight_orig')
    if any(k.startswith(collection_markers) for k in keys):
        return 'collection'
    return None


#: A key fragment of each collection model's generator (or discriminator) state dict.
_COLLECTION_MODEL_MARKERS = (('SAM1.', 'spagan'), ('det_conv', 'amgan_cr'),
                             ('shallow_feat1.', 'memorynet'), ('rdb_module.', 'msda_cr'),
                             ('encoder.patch_embedding.', 'cvae'), ('layer1_new.', 'msda_cr'))


def converter_command(state: StateDict, path: str, config: str = 'CONFIG') -> Optional[str]:
    """The command that converts the unconverted official file ``path`` (whose state dict
    is ``state``), or None when its layout is not an official one."""
    found = detect_source_format(state, path)
    if found is None:
        return None
    model = 'MODEL'
    if found == 'collection':
        model = next((m for marker, m in _COLLECTION_MODEL_MARKERS
                      if any(marker in k for k in state)), model)
    out = osp.splitext(osp.basename(path))[0] + '_crbench.pth'
    return SOURCE_FORMATS[found][1].format(path=path, out=out, config=config, model=model)
