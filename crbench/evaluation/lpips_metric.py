"""LPIPS (AlexNet, v0.1) built strictly offline.

The ``lpips`` package ships the learned linear layers
(``lpips/weights/v0.1/alex.pth``) but fetches the AlexNet backbone from the
internet when ``pnet_rand=False`` (``docs/environment.md``, "LPIPS").
crbench never downloads: it builds ``lpips.LPIPS(net='alex',
pretrained=True, pnet_rand=True)`` (random backbone, real linear layers) and
then loads torchvision's ImageNet AlexNet weights ``alexnet-owt-7be5be79.pth``
from a file found, in this order, at

1. the path passed explicitly (``weights_path``),
2. the path in the environment variable ``CRBENCH_ALEXNET_WEIGHTS``,
3. ``torch.hub.get_dir()/checkpoints/alexnet-owt-7be5be79.pth`` (the place
   torchvision itself would cache it).

If none exists, :class:`LPIPSUnavailableError` says which file to put where.
A random backbone is used only with ``allow_random_backbone=True`` (tests);
the model is then marked ``random_backbone = True`` and its numbers must
never be reported as LPIPS.
"""
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import torch

__all__ = [
    'ALEXNET_FILENAME', 'ALEXNET_ENV_VAR', 'LPIPSUnavailableError',
    'alexnet_weight_candidates', 'find_alexnet_weights',
    'alexnet_to_lpips_state_dict', 'read_alexnet_backbone',
    'load_alexnet_backbone', 'build_lpips'
]

ALEXNET_FILENAME = 'alexnet-owt-7be5be79.pth'
ALEXNET_ENV_VAR = 'CRBENCH_ALEXNET_WEIGHTS'

# lpips.pretrained_networks.alexnet splits torchvision's ``alexnet().features``
# into five ``nn.Sequential`` slices, keeping the original layer index as the
# module name: features[0:2] -> slice1, [2:5] -> slice2, [5:8] -> slice3,
# [8:10] -> slice4, [10:12] -> slice5. Only the convolutions (indices 0, 3, 6,
# 8, 10) carry parameters.
_ALEX_CONV_TO_SLICE = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


class LPIPSUnavailableError(RuntimeError):
    """The real LPIPS cannot be built: the AlexNet weights are absent."""


def alexnet_weight_candidates(weights_path: Optional[str] = None
                              ) -> List[Path]:
    """Where the backbone file is looked for, in priority order."""
    if weights_path:
        return [Path(weights_path).expanduser()]
    env = os.environ.get(ALEXNET_ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    return [Path(torch.hub.get_dir()) / 'checkpoints' / ALEXNET_FILENAME]


def _missing_message(candidates: List[Path]) -> str:
    tried = ', '.join(str(c) for c in candidates)
    hub = Path(torch.hub.get_dir()) / 'checkpoints' / ALEXNET_FILENAME
    return (
        f'LPIPS needs torchvision\'s ImageNet AlexNet weights '
        f'"{ALEXNET_FILENAME}" (the file torchvision.models.alexnet('
        f'weights="IMAGENET1K_V1") downloads), and crbench never downloads. '
        f'Not found at: {tried}. Place the file at {hub} (the torch hub '
        f'cache), or set the environment variable {ALEXNET_ENV_VAR} to its '
        f'path, or pass its path as lpips_weights=... in the metric config.')


def find_alexnet_weights(weights_path: Optional[str] = None) -> Path:
    """First existing backbone file, else raise LPIPSUnavailableError."""
    candidates = alexnet_weight_candidates(weights_path)
    for path in candidates:
        if path.is_file():
            return path
    raise LPIPSUnavailableError(_missing_message(candidates))


def alexnet_to_lpips_state_dict(state: Dict[str, torch.Tensor]
                                ) -> Dict[str, torch.Tensor]:
    """Rename torchvision ``features.{i}.*`` keys to lpips ``slice{k}.{i}.*``.

    ``classifier.*`` keys (not used by LPIPS) are ignored. Raises
    ``KeyError`` naming the missing keys if a convolution is absent.
    """
    if 'state_dict' in state and isinstance(state['state_dict'], dict):
        state = state['state_dict']
    out, missing = {}, []
    for idx, slice_no in _ALEX_CONV_TO_SLICE.items():
        for param in ('weight', 'bias'):
            src = f'features.{idx}.{param}'
            if src not in state:
                missing.append(src)
                continue
            out[f'slice{slice_no}.{idx}.{param}'] = state[src]
    if missing:
        raise KeyError(f'AlexNet state dict lacks {missing}; expected '
                       f'torchvision\'s {ALEXNET_FILENAME} '
                       f'(keys features.0/3/6/8/10.weight|bias)')
    return out


def read_alexnet_backbone(path: Path) -> Dict[str, torch.Tensor]:
    """Read torchvision's AlexNet file safely and rename it for lpips."""
    state = torch.load(str(path), map_location='cpu', weights_only=True)
    if not isinstance(state, dict):
        raise LPIPSUnavailableError(
            f'{path} does not hold a state dict (got {type(state).__name__}); '
            f'it must be torchvision\'s {ALEXNET_FILENAME}')
    return alexnet_to_lpips_state_dict(state)


def load_alexnet_backbone(model: torch.nn.Module, path: Path) -> None:
    """Load the torchvision AlexNet file at ``path`` into ``model.net``."""
    model.net.load_state_dict(read_alexnet_backbone(path), strict=True)


def _lpips_with_random_backbone() -> torch.nn.Module:
    """lpips.LPIPS v0.1 AlexNet with the shipped linear layers; no download."""
    import lpips  # imported lazily: it imports torchvision
    with warnings.catch_warnings():
        # torchvision deprecation warnings about ``pretrained=``.
        warnings.simplefilter('ignore', UserWarning)
        return lpips.LPIPS(net='alex', version='0.1', pretrained=True,
                           pnet_rand=True, verbose=False)


def build_lpips(weights_path: Optional[str] = None,
                allow_random_backbone: bool = False) -> torch.nn.Module:
    """Build an eval-mode, frozen LPIPS-alex v0.1 without network access.

    Args:
        weights_path: explicit path of ``alexnet-owt-7be5be79.pth``.
        allow_random_backbone: if the file is absent, keep the random
            backbone instead of raising (tests only). The returned model has
            ``random_backbone = True`` in that case.
    Raises:
        LPIPSUnavailableError: weights absent and random not allowed.
    """
    try:
        path = find_alexnet_weights(weights_path)
    except LPIPSUnavailableError:
        if not allow_random_backbone:
            raise
        path = None
    # Read (and validate) the file before paying for the model construction.
    backbone = None if path is None else read_alexnet_backbone(path)
    model = _lpips_with_random_backbone()
    if backbone is not None:
        model.net.load_state_dict(backbone, strict=True)
    model.random_backbone = path is None
    model.backbone_path = None if path is None else str(path)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
