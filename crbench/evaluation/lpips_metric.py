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
import torch.nn.functional as F

from .alexnet_kernels import (alexnet_conv, derived_from_weight,
                              space_to_depth_weight, strided_conv_as_dense)

__all__ = [
    'ALEXNET_FILENAME', 'ALEXNET_ENV_VAR', 'LPIPSUnavailableError',
    'alexnet_weight_candidates', 'find_alexnet_weights',
    'alexnet_to_lpips_state_dict', 'read_alexnet_backbone',
    'load_alexnet_backbone', 'build_lpips', 'lpips_distance'
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


# ---------------------------------------------------------------------------
# The LPIPS distance, computed with fewer operations than lpips.LPIPS.forward
# ---------------------------------------------------------------------------
def _is_plain_lpips_alex(model: torch.nn.Module) -> bool:
    """An lpips.LPIPS v0.1 AlexNet returning one spatially averaged value."""
    try:
        from lpips.pretrained_networks import alexnet
    except ImportError:
        return False
    return (type(model).__name__ == 'LPIPS' and isinstance(
        getattr(model, 'net', None), alexnet) and model.version == '0.1'
            and model.lpips and not model.spatial)


def _folded_first_layer(model: torch.nn.Module, channels: int, h: int,
                        w: int):
    """The scaling layer folded into AlexNet's first convolution.

    lpips feeds conv1 with (x − shift)/scale, zero-padded. That equals
    conv1 with weights W/scale on the zero-padded x, minus the convolution of
    the constant field shift/scale (zero outside the image: it differs from a
    constant only near the borders, so it is kept as a map). A band
    replicated to 3 channels (``channels == 1``) needs only the sum of the
    three folded weight planes: a third of conv1's work. On CPU that
    one-channel weight is returned rearranged for
    :func:`~crbench.evaluation.alexnet_kernels.strided_conv_as_dense` (1.4–2×
    faster there; with three channels the direct kernel was faster).
    """
    conv = model.net.slice1[0]
    shift, scale = model.scaling_layer.shift, model.scaling_layer.scale
    # {(channels, H, W): (first-layer weight, border term)}
    table = derived_from_weight(model, 'folded_first_layer', conv.weight, dict)
    if (channels, h, w) not in table:
        weight = conv.weight / scale.view(1, 3, 1, 1)
        if channels == 1:
            weight = weight.sum(1, keepdim=True)
        field = (shift / scale).expand(1, 3, h, w)
        border = F.conv2d(field, conv.weight, None, conv.stride,
                          conv.padding).contiguous(
                              memory_format=torch.channels_last)
        if channels == 1 and weight.device.type == 'cpu':
            weight = space_to_depth_weight(weight, conv.stride[0])
        table[(channels, h, w)] = (weight, border)
    return table[(channels, h, w)]


def lpips_distance(model: torch.nn.Module, in0: torch.Tensor,
                   in1: torch.Tensor) -> torch.Tensor:
    """``model(in0, in1, normalize=False)`` of an lpips-alex v0.1 model, faster.

    ``in0``, ``in1``: N×3×H×W, or N×1×H×W for a band replicated to the three
    channels (the CUHK evaluator's per-band LPIPS). Returns N float32 values.
    Same network, same weights and the same formula as lpips 0.1
    (normalised features, squared difference, the linear layers, spatial
    mean, summed over the five layers), with four savings: both inputs go
    through AlexNet in one batch, in channels-last layout; the scaling layer
    is folded into the first convolution (one input channel for a replicated
    band); on CPU the convolutions take faster formulations of the same sums
    (:mod:`crbench.evaluation.alexnet_kernels`); the linear layers are
    matrix-vector products over the channels.
    The values differ from ``model(in0, in1)`` only by float32 rounding
    (tested). Any other LPIPS model is simply called.
    """
    if not _is_plain_lpips_alex(model) or in0.shape[1] not in (1, 3):
        if in0.shape[1] == 1:
            in0, in1 = in0.expand(-1, 3, -1, -1), in1.expand(-1, 3, -1, -1)
        return model(in0, in1, normalize=False).flatten()
    step = in0.shape[0]
    if in0.device.type == 'cpu':  # a few pairs a call keep AlexNet in cache
        step = max(1, _CPU_PIXELS_PER_CALL // in0[0, 0].numel())
    return torch.cat([
        _lpips_alex(model, in0[i:i + step], in1[i:i + step])
        for i in range(0, in0.shape[0], step)
    ])


# Pairs of images per AlexNet call on CPU: four 256² pairs was the fastest
# (1.5× faster per pair than 32 at once, with one thread).
_CPU_PIXELS_PER_CALL = 4 * 256 * 256


def _lpips_alex(model: torch.nn.Module, in0: torch.Tensor,
                in1: torch.Tensor) -> torch.Tensor:
    """:func:`lpips_distance` of one batch through the folded network."""
    n, c, h, w = in0.shape
    conv = model.net.slice1[0]
    weight, border = _folded_first_layer(model, c, h, w)
    x = torch.cat([in0, in1])
    if weight.shape[1] != c:  # rearranged by space_to_depth_weight
        feat = strided_conv_as_dense(x, weight, conv.bias,
                                     conv.kernel_size[0], conv.stride[0],
                                     conv.padding[0])
    else:
        feat = F.conv2d(x.contiguous(memory_format=torch.channels_last),
                        weight, conv.bias, conv.stride, conv.padding)
    feat = feat.sub_(border).relu_()
    total = torch.zeros(n, dtype=feat.dtype, device=feat.device)
    slices = (None, model.net.slice2, model.net.slice3, model.net.slice4,
              model.net.slice5)
    for layer, lin in zip(slices, model.lins):
        for module in layer or ():
            feat = (alexnet_conv(feat, module) if isinstance(
                module, torch.nn.Conv2d) else module(feat))
        # lpips' normalize_tensor; one pass over the channels for the norm
        norm = torch.linalg.vector_norm(feat, dim=1, keepdim=True)
        unit = feat / norm.add_(1e-10)
        diff = (unit[:n] - unit[n:]).square_()
        lin_weight = lin.model[-1].weight.view(-1)
        total += torch.matmul(diff.permute(0, 2, 3, 1), lin_weight).mean(
            (1, 2))
    return total
