"""DE's reference prior x_{0,E} = E(y) (DE Eq. 10) as one small module.

``FrozenReference(network, checkpoint, ...)`` wraps any ``MODELS`` network E
(a trained supervised cloud-removal model):

* **loading**: the weights always come from ``checkpoint``, never from the
  framework's own state dict, loaded strictly by
  ``crbench.engine.checkpoint.load_network_weights``: the file's keys as they
  are, or the part under the first of ``key_prefixes`` the file has (other parts
  may only be training-only ones, e.g. a discriminator); an unconverted official
  file is refused with the converter command;
* **range mapping**: the official reference networks take the cloudy image
  in [0, 1] and return [0, 1], crbench tensors are in [-1, 1].
  ``input_range='zero_one'`` feeds ``(y + 1) / 2`` and maps the output back
  with ``2 x - 1``; ``'minus_one_one'`` passes [-1, 1] through both ways (a
  reference trained on crbench's tensors);
* **output index**: a network returning a tuple or list (e.g. MemoryNet's
  stages) gives element ``output_index`` (default: the last);
* **frozen**: no parameter requires grad, the module stays in eval mode,
  ``forward`` runs without autograd, and E's weights are left out of the
  owner's state dict (and ignored when loading one), so DE checkpoints and
  parameter counts hold only the CNP and the WA network, as in the paper.

``check_reference_checkpoint(model_cfg)`` does the file check of a model
config without building anything, so that a training run can refuse to start
(instead of failing after a whole first stage) when the prior is untrained.
"""
import os.path as osp
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from crbench.registry import MODELS

INPUT_RANGES = ('zero_one', 'minus_one_one')
DEFAULT_KEY_PREFIXES = ('generator.', 'net.', 'network.', 'model.', 'backbone.')


class ReferenceCheckpointNotFound(FileNotFoundError):
    """The trained reference network's checkpoint does not exist."""


def missing_checkpoint_message(path: Optional[str], network_type: str,
                               train_config: Optional[str]) -> str:
    command = 'python tools/train.py ' + (train_config or 'configs/<model>/<model>_<dataset>.py')
    return (f'DE reference network checkpoint not found: {path!r}. DE needs a trained '
            f'reference network ({network_type}); train it first with\n'
            f'    {command}\n'
            'and set reference_checkpoint to the resulting .pth file '
            "(or use fusion='none' for pure diffusion).")


def check_reference_checkpoint(model_cfg) -> None:
    """Raise ``ReferenceCheckpointNotFound`` if a model config needs a reference
    checkpoint that does not exist (DE with ``fusion`` other than ``'none'``)."""
    if not isinstance(model_cfg, dict) or 'reference_checkpoint' not in model_cfg \
            and model_cfg.get('reference') is None:
        return
    if model_cfg.get('fusion', 'wa') == 'none' or model_cfg.get('reference') is None:
        return
    path = model_cfg.get('reference_checkpoint')
    if path is None or not osp.isfile(path):
        reference = model_cfg.get('reference') or {}
        network_type = reference.get('type', '?') if isinstance(reference, dict) else '?'
        network_type = getattr(network_type, '__name__', network_type)
        raise ReferenceCheckpointNotFound(missing_checkpoint_message(
            path, str(network_type), model_cfg.get('reference_train_config')))


class FrozenReference(nn.Module):
    """x_{0,E} = E(y) in [-1, 1] from a frozen, pre-trained network (module docstring).

    Args:
        network: ``MODELS`` config (or module) of E.
        checkpoint: file with E's trained weights.
        train_config: config that trains E, quoted when ``checkpoint`` is missing.
        input_range: ``'zero_one'`` or ``'minus_one_one'``.
        output_index: which element of a tuple/list output is the image.
        key_prefixes: prefixes tried when loading E's weights.
    """

    def __init__(self, network, checkpoint: Optional[str],
                 train_config: Optional[str] = None, input_range: str = 'zero_one',
                 output_index: int = -1,
                 key_prefixes: Sequence[str] = DEFAULT_KEY_PREFIXES):
        super().__init__()
        if input_range not in INPUT_RANGES:
            raise ValueError(f'reference_input_range must be one of {INPUT_RANGES}, '
                             f'got {input_range!r}')
        self.input_range = input_range
        self.output_index = output_index
        self.network = MODELS.build(network) if isinstance(network, dict) else network
        self.load(checkpoint, train_config, key_prefixes)
        self.network.requires_grad_(False)
        self.network.eval()
        self.register_state_dict_post_hook(FrozenReference._drop_own_keys)
        self.register_load_state_dict_pre_hook(FrozenReference._keep_own_weights)

    def load(self, path: Optional[str], train_config: Optional[str] = None,
             key_prefixes: Sequence[str] = DEFAULT_KEY_PREFIXES) -> None:
        if path is None or not osp.isfile(path):
            raise ReferenceCheckpointNotFound(missing_checkpoint_message(
                path, type(self.network).__name__, train_config))
        # strict; the file's keys as they are or under the first of key_prefixes it has;
        # an unconverted official file is refused with the converter command
        from crbench.engine.checkpoint import load_network_weights
        load_network_weights(self.network, path, key_prefixes)

    # E's weights are not part of the owner's state (module docstring)
    @staticmethod
    def _drop_own_keys(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]

    @staticmethod
    def _keep_own_weights(module, state_dict, prefix, *args):
        # whatever a loaded state dict holds under this prefix, E keeps the checkpoint's
        # weights: put them in (so none is reported missing) before the load copies them
        for key, value in module.network.state_dict(keep_vars=True).items():
            state_dict[f'{prefix}network.{key}'] = value

    def train(self, mode: bool = True):
        return super().train(False)  # E is frozen: always in inference mode

    @torch.no_grad()
    def forward(self, cloudy: Tensor) -> Tensor:
        """x_{0,E} = E(y) in [-1, 1].  # DE Eq. 10"""
        y = (cloudy + 1) / 2 if self.input_range == 'zero_one' else cloudy
        out = self.network(y)
        if isinstance(out, (tuple, list)):
            out = out[self.output_index]
        if self.input_range == 'zero_one':
            out = out * 2 - 1
        return out.detach()
