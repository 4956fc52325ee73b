"""Common behaviour of every crbench framework (restorers, DE, EMRDM).

Inference switches (``inference_cfg``)
--------------------------------------
Every framework accepts ``inference_cfg`` in its model config, e.g.::

    model = dict(type='SupervisedRestorer', ...,
                 inference_cfg=dict(channels_last=True, compile=True))

Keys (all optional; the defaults are what reported numbers use):

* ``inference_mode`` (``True``): predict under ``torch.inference_mode``
  (no autograd bookkeeping at all; faster than ``no_grad``).
* ``channels_last`` (``False``): convert the networks' 4-D weights and the
  4-D inputs to the channels-last memory format (oneDNN/cuDNN convolutions
  run without layout conversions). Same arithmetic, other rounding order.
* ``compile`` (``False``): ``True`` or a dict of ``torch.compile`` options
  plus ``modules`` (names of the framework's child modules to compile;
  default: every child with parameters except the data preprocessor). The
  compiled forwards are used only while predicting; training steps keep the
  eager modules.
* ``autocast`` (``None``): ``'bf16'`` or ``'fp16'`` runs the forward under
  ``torch.autocast`` of the input's device type; predictions are returned in
  float32. It changes the metrics slightly: it is off for reported numbers
  (docs/efficiency_inference.md has the measured changes).

The switches apply in ``forward(mode='predict')`` (what the MMEngine val and
test loops call) and ``forward(mode='tensor')`` in eval mode; code that calls
``restore`` directly can enter :meth:`BaseRestorer.inference_context`.
"""
import contextlib
import functools
import warnings
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModel

from crbench.models.data_preprocessor import stack_field
from crbench.structures import CRDataSample

INFERENCE_KEYS = ('inference_mode', 'channels_last', 'compile', 'autocast')
_AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def cpu_has_fast_kernels(name: str) -> bool:
    """Whether this CPU has oneDNN kernels for ``name`` ('bf16' or 'fp16'). Without them
    (e.g. an AVX2-only CPU) PyTorch runs its reference kernels under autocast, many
    times slower than float32 (docs/efficiency_inference.md)."""
    probe = {'bf16': '_is_mkldnn_bf16_supported', 'fp16': '_is_mkldnn_fp16_supported'}[name]
    try:
        return bool(getattr(torch.ops.mkldnn, probe)())
    except (AttributeError, RuntimeError):
        return False


def check_inference_cfg(cfg: Optional[dict]) -> dict:
    """Validated ``inference_cfg`` with defaults filled in."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(INFERENCE_KEYS))
    if unknown:
        raise KeyError(f'unknown inference_cfg key(s) {unknown}; valid keys: '
                       f'{list(INFERENCE_KEYS)} (see crbench/models/restorers/base.py)')
    out = dict(inference_mode=True, channels_last=False, compile=False, autocast=None)
    out.update(cfg)
    if out['autocast'] not in (None, *_AUTOCAST_DTYPES):
        raise ValueError(f"inference_cfg.autocast must be None, 'bf16' or 'fp16', got "
                         f"{out['autocast']!r}")
    if not isinstance(out['compile'], (bool, dict)):
        raise TypeError(f"inference_cfg.compile must be a bool or a dict of torch.compile "
                        f"options, got {type(out['compile']).__name__}")
    return out


class BaseRestorer(BaseModel):
    """An MMEngine model that turns cloudy inputs into cloud-free predictions.

    Subclasses implement ``loss(inputs, data_samples) -> dict`` and
    ``restore(inputs) -> Tensor`` (the prediction, B×C×H×W in [-1, 1]).
    ``forward`` dispatches on MMEngine's three modes; ``predict`` fills
    ``pred`` of each data sample, so every framework is evaluated the same way.
    Every subclass also accepts the keyword ``inference_cfg`` (module docstring).
    """

    def __init_subclass__(cls, **kwargs):
        # Let every framework take ``inference_cfg`` without repeating it in
        # each constructor signature: the keyword is taken off and applied
        # after the subclass's own ``__init__`` has run.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get('__init__')
        if init is None or getattr(init, '_takes_inference_cfg', False):
            return

        @functools.wraps(init)
        def __init__(self, *args, inference_cfg: Optional[dict] = None, **kw):
            init(self, *args, **kw)
            if inference_cfg is not None:
                self.inference_cfg = check_inference_cfg(inference_cfg)

        __init__._takes_inference_cfg = True
        cls.__init__ = __init__

    def __init__(self, data_preprocessor: Optional[dict] = None, init_cfg=None,
                 inference_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='CRDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.inference_cfg = check_inference_cfg(inference_cfg)
        self._compiled: Optional[Dict[str, object]] = None
        self._channels_last_done = False

    def forward(self, inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[CRDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            with self.inference_context():
                samples = self.predict(self._layout(inputs), data_samples)
            for sample in samples:  # autocast: report float32 predictions
                if isinstance(getattr(sample, 'pred', None), torch.Tensor) \
                        and sample.pred.is_floating_point():
                    sample.pred = sample.pred.float()
            return samples
        if mode == 'tensor':
            if self.training:
                return self.restore(inputs)
            with self.inference_context():
                return self.restore(self._layout(inputs)).float()
        raise ValueError(f"unknown forward mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def restore(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, inputs, data_samples) -> List[CRDataSample]:
        pred = self.restore(inputs)
        for sample, p in zip(data_samples, pred):
            sample.pred = p.detach()
        return data_samples

    @staticmethod
    def targets(data_samples) -> torch.Tensor:
        """The ground truth of a batch, B×C×H×W in [-1, 1]."""
        return stack_field(data_samples, 'gt')

    # ------------------------------------------------------- inference switches
    def _layout(self, inputs):
        """Inputs in channels-last layout when that switch is on."""
        if not self.inference_cfg['channels_last'] or not isinstance(inputs, dict):
            return inputs
        return {k: v.contiguous(memory_format=torch.channels_last)
                if isinstance(v, torch.Tensor) and v.dim() == 4 else v
                for k, v in inputs.items()}

    def _compile_targets(self) -> Dict[str, torch.nn.Module]:
        opts = self.inference_cfg['compile']
        names = opts.get('modules') if isinstance(opts, dict) else None
        children = dict(self.named_children())
        if names is None:
            return {n: m for n, m in children.items() if n != 'data_preprocessor'
                    and any(True for _ in m.parameters())}
        missing = [n for n in names if n not in children]
        if missing:
            raise KeyError(f'inference_cfg.compile.modules names {missing}, which '
                           f'{type(self).__name__} does not have; its modules: '
                           f'{sorted(children)}')
        return {n: children[n] for n in names}

    @contextlib.contextmanager
    def inference_context(self):
        """Apply ``inference_cfg`` (module docstring) for the enclosed calls."""
        cfg = self.inference_cfg
        if cfg['channels_last'] and not self._channels_last_done:
            # 4-D weights only; a layout change, the values stay the same
            self.to(memory_format=torch.channels_last)
            self._channels_last_done = True
        swapped = []
        if cfg['compile']:
            if self._compiled is None:
                opts = dict(cfg['compile']) if isinstance(cfg['compile'], dict) else {}
                opts.pop('modules', None)
                self._compiled = {name: torch.compile(module.forward, **opts)
                                  for name, module in self._compile_targets().items()}
            for name, fn in self._compiled.items():
                module = getattr(self, name)
                module.forward = fn  # instance attribute shadows the eager forward
                swapped.append(module)
        grad = torch.inference_mode() if cfg['inference_mode'] else torch.no_grad()
        if cfg['autocast']:
            device = next((p.device.type for p in self.parameters()), 'cpu')
            if device == 'cpu' and not cpu_has_fast_kernels(cfg['autocast']):
                warnings.warn(f"inference_cfg.autocast={cfg['autocast']!r}: this CPU has no "
                              f"oneDNN {cfg['autocast']} kernels, so the forward runs PyTorch's "
                              'reference kernels, usually many times slower than float32; '
                              'leave autocast off on this machine', RuntimeWarning)
            amp = torch.autocast(device, dtype=_AUTOCAST_DTYPES[cfg['autocast']])
        else:
            amp = contextlib.nullcontext()
        try:
            with grad, amp:
                yield
        finally:
            for module in swapped:
                del module.forward
