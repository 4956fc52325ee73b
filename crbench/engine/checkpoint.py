"""Strict loading of weights for testing, inference and frozen priors.

Every crbench path that evaluates weights (``tools/test.py``, ``tools/infer_scene.py``,
:func:`crbench.inference.api.init_model`, DE's frozen reference network) loads them
here, and strictly: every tensor of the model must come from the file, and every tensor
of the file must have a place in the model. A file that does not fit is an error that
lists the missing and unexpected keys (shortened) and, when the file is an unconverted
official checkpoint, names the converter to run (:data:`crbench.converters.SOURCE_FORMATS`).
MMEngine's ``load_from`` is not used for evaluation: it loads non-strictly, so an
unconverted file would test a randomly initialised network.

One exception is explicit: a **generator-only** checkpoint (what the converters write
when no discriminator file is given) may lack *all* of the discriminator's tensors,
since testing and inference never run the discriminator (``generator_only_ok``). A
partial discriminator is still an error.

Conventions. A converted checkpoint's ``meta['input_conventions']``
(:mod:`crbench.converters.common`) is applied: its ``value_range`` becomes the range the
model's network sees (``model.range`` of the supervised, GAN and CVAE frameworks);
a model without that switch must already work in that range. Band orders are folded
into the weights by the converters, so a source band order other than RGB that was
not folded is refused.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import torch

from .compat import load_checkpoint_file

#: Top-level parts of a framework that testing and inference never run.
TRAINING_ONLY_PARTS = ('discriminator.',)


class WeightsMismatchError(KeyError):
    """The weights file does not fit the model; the message lists the keys and the fix.
    (A KeyError, as a missing key always was; printed without KeyError's quotes.)"""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _shorten(keys, limit: int = 6) -> str:
    from crbench.converters.common import shorten
    return shorten(keys, limit)


def read_weights(path: str) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """``(state_dict, meta)`` of a weights file, read under crbench's trust rule
    (:func:`crbench.engine.compat.load_checkpoint_file`). A plain state dict has no meta;
    a DataParallel ``module.`` prefix on every key is removed."""
    obj = load_checkpoint_file(path, map_location='cpu')
    meta: dict = {}
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        meta = obj.get('meta') if isinstance(obj.get('meta'), dict) else {}
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj:
        raise WeightsMismatchError(f'{path!r} holds no state dict of weights '
                                   f'(got {type(obj).__name__})')
    state = OrderedDict(obj)
    if all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return state, meta


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def _advice(state: Dict[str, torch.Tensor], path: str) -> str:
    from crbench.converters.common import (SOURCE_FORMATS, converter_command,
                                           detect_source_format)
    found = detect_source_format(state, path)
    if found:
        return (f' {path!r} looks like an unconverted {SOURCE_FORMATS[found][0]}; convert it '
                f'first:\n    {converter_command(state, path)}\nand pass the converted file.')
    return (' Pass the config the checkpoint was trained with, or convert official weights '
            'with the converter of their repository in tools/model_converters/.')


def _mismatch(path: str, what: str, missing, unexpected, state) -> WeightsMismatchError:
    return WeightsMismatchError(
        f'the weights in {path!r} do not fit {what}: {len(missing)} missing '
        f'({_shorten(missing) or "none"}), {len(unexpected)} unexpected '
        f'({_shorten(unexpected) or "none"}).' + _advice(state, path))


def _load_exact(module: torch.nn.Module, state, path: str, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # shapes: torch lists every mismatch
        lines = [ln.strip() for ln in str(err).splitlines() if 'size mismatch' in ln]
        raise WeightsMismatchError(
            f'the weights in {path!r} do not fit {what}: {len(lines)} shape mismatch(es): '
            f'{_shorten(lines, 3)}. Pass the config the checkpoint was trained with '
            '(bands, sizes).') from None


def load_weights(model: torch.nn.Module, path: str, *, generator_only_ok: bool = True,
                 apply_conventions: bool = True, cfg=None) -> dict:
    """Load ``path`` into ``model`` strictly (module docstring); returns the file's ``meta``
    with ``meta['loaded']`` saying what was loaded. With the run's ``cfg``, a source
    training resolution the test pipeline does not keep is noted (printed and in
    ``meta['notes']``).

    Raises :class:`WeightsMismatchError` (keys, shapes, conventions),
    :class:`FileNotFoundError` and :class:`crbench.engine.UntrustedCheckpointError`.
    """
    state, meta = read_weights(path)
    model = _unwrap(model)
    what = f'the model ({type(model).__name__})'
    expected = list(model.state_dict())
    missing = [k for k in expected if k not in state]
    known = set(expected)
    unexpected = [k for k in state if k not in known]
    absent_parts = []
    if generator_only_ok and missing and not unexpected:
        for part in TRAINING_ONLY_PARTS:
            in_part = [k for k in expected if k.startswith(part)]
            if in_part and all(k not in state for k in in_part):
                absent_parts.append(part.rstrip('.'))
        missing = [k for k in missing if not k.startswith(tuple(p + '.' for p in absent_parts))]
    if missing or unexpected:
        raise _mismatch(path, what, missing, unexpected, state)
    if absent_parts:
        # exactly the absent parts may stay at their initialisation: load the rest strictly
        keep = OrderedDict((k, v) for k, v in model.state_dict().items()
                           if k.startswith(tuple(p + '.' for p in absent_parts)))
        _load_exact(model, OrderedDict(list(state.items()) + list(keep.items())), path, what)
    else:
        _load_exact(model, state, path, what)
    meta = dict(meta)
    meta['loaded'] = ('all weights' if not absent_parts else
                      f'generator only ({", ".join(absent_parts)} absent: not used to test or '
                      'infer)')
    if apply_conventions:
        note = apply_input_conventions(model, meta, path)
        notes = [note] if note else []
        if cfg is not None:
            notes += resolution_notes(meta, cfg)
        for note in notes:
            print(f'crbench: {path}: {note}')
        if notes:
            meta['notes'] = notes
    return meta


def resolution_notes(meta: dict, cfg) -> list:
    """A note when the source trained at a fixed resolution and the config's test
    pipeline resizes images (crbench keeps its protocol; the note makes it visible)."""
    size = (meta.get('input_conventions') or {}).get('training_resolution')
    if not isinstance(size, int):
        return []
    loader = cfg.get('test_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or []
    resizes = [step for step in pipeline if 'Resize' in str(step.get('type', ''))]
    if not resizes:
        return []
    return [f'its source trained at {size} px, and this config\'s test pipeline resizes '
            f'images ({resizes[0]}); the metrics follow the config\'s protocol. To test at '
            'the source\'s resolution, remove the resize from test_dataloader.dataset.pipeline']


def load_network_weights(network: torch.nn.Module, path: str,
                         prefixes: Sequence[str] = ('generator.', 'network.')) -> dict:
    """Load a bare network (e.g. DE's frozen reference) strictly from ``path``.

    The file may hold the network's keys as they are, or a framework checkpoint whose
    part under one of ``prefixes`` is the network (the first prefix that has keys is
    used). The file's other parts must be training-only ones (:data:`TRAINING_ONLY_PARTS`,
    a generator-only use); anything else is an error. Returns the file's ``meta``.
    """
    state, meta = read_weights(path)
    expected = list(network.state_dict())
    what = f'the network {type(network).__name__}'
    chosen = None
    if not set(expected) <= set(state):
        chosen = next((p for p in prefixes if any(k.startswith(p) for k in state)), None)
    if chosen is not None:
        others = [k for k in state if not k.startswith(chosen)]
        foreign = [k for k in others if not k.startswith(TRAINING_ONLY_PARTS)]
        if foreign:
            raise _mismatch(path, f'{what} (taken from the {chosen!r} part)', [], foreign, state)
        state = OrderedDict((k[len(chosen):], v) for k, v in state.items()
                            if k.startswith(chosen))
        what += f' (the {chosen!r} part of the file)'
    missing = [k for k in expected if k not in state]
    known = set(expected)
    unexpected = [k for k in state if k not in known]
    if missing or unexpected:
        raise _mismatch(path, what, missing, unexpected, state)
    _load_exact(network, state, path, what)
    meta = dict(meta)
    meta['loaded'] = 'network' + (f' ({chosen.rstrip(".")} part)' if chosen else '')
    return meta


def apply_input_conventions(model: torch.nn.Module, meta: dict, path: str = '') -> Optional[str]:
    """Apply ``meta['input_conventions']`` to ``model`` (module docstring); returns a note
    describing a change, or None."""
    conventions = meta.get('input_conventions') or {}
    order = str(conventions.get('band_order', 'RGB'))
    if not order.startswith('RGB'):
        raise WeightsMismatchError(
            f'{path!r} was trained on {order} band order and the converter did not fold it '
            'into the weights; reconvert it with the current tools/model_converters/')
    value_range = conventions.get('value_range')
    if value_range is None:
        return None
    value_range = tuple(float(v) for v in value_range)
    current = getattr(model, 'range', None)
    if current is not None and hasattr(current, 'as_tuple'):
        if current.as_tuple() != value_range:
            model.range = type(current)(value_range)
            note = (f'network range {current.as_tuple()} of the config replaced by '
                    f'{value_range} from the checkpoint metadata')
            meta['applied'] = note
            return note
        return None
    if value_range != (-1.0, 1.0):
        raise WeightsMismatchError(
            f'{path!r} was trained on values in {list(value_range)}, and '
            f'{type(model).__name__} has no network_range to map crbench\'s [-1, 1] to it')
    return None
