"""VGG16 perceptual loss of MSDA-CR (docs/models.md §1.2), for any band count."""
import os
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS

#: Environment variable naming a VGG16 checkpoint file.
WEIGHTS_ENV = 'CRBENCH_VGG16_WEIGHTS'
#: torchvision's ImageNet VGG16 file name, looked up in ``<torch hub dir>/checkpoints``.
HUB_FILE = 'vgg16-397923af.pth'

# torchvision ``vgg16().features`` up to relu3_3 (index 15): conv widths, with
# 'M' for the max-pools. Building only this slice avoids allocating the
# 138M-parameter full network; the indices (and so the checkpoint keys
# ``features.<i>.*``) are the same as torchvision's.
_LAYOUT = (64, 64, 'M', 128, 128, 'M', 256, 256, 256)
_TAPS = (3, 8, 15)  # relu1_2, relu2_2, relu3_3


def _vgg16_to_relu3_3() -> nn.Sequential:
    layers: List[nn.Module] = []
    cin = 3
    for v in _LAYOUT:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v
    return nn.Sequential(*layers)


def resolve_vgg16_weights(weights_path: Optional[str] = None) -> Tuple[Optional[Path], List[str]]:
    """The VGG16 checkpoint to use and every place that was looked at.

    Order: ``weights_path``, then ``$CRBENCH_VGG16_WEIGHTS``, then torch hub's
    cache ``<hub dir>/checkpoints/vgg16-397923af.pth``. An explicitly configured
    path (argument or environment variable) that does not exist is an error,
    never silently skipped.
    """
    looked = []
    for origin, value in (('weights_path', weights_path), (WEIGHTS_ENV, os.environ.get(WEIGHTS_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f'VGG16 weights configured by {origin} not found: {path}')
            return path, [str(path)]
    hub = Path(torch.hub.get_dir()) / 'checkpoints' / HUB_FILE
    looked.append(str(hub))
    return (hub if hub.is_file() else None), looked


def load_vgg16_features(path: Path) -> dict:
    """Conv weights of ``features[:16]`` from a torchvision VGG16 state dict
    (keys ``features.<i>.weight``) or from a state dict of the features alone
    (keys ``<i>.weight``). Loaded with ``weights_only=True``: a weights file
    must never run code."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and 'state_dict' in state and isinstance(state['state_dict'], dict):
        state = state['state_dict']
    wanted = [f'{i}.{k}' for i, m in enumerate(_vgg16_to_relu3_3())
              if isinstance(m, nn.Conv2d) for k in ('weight', 'bias')]
    out = {}
    for key in wanted:
        for candidate in (f'features.{key}', key):
            if candidate in state:
                out[key] = state[candidate]
                break
        else:
            raise KeyError(f'{path} is not a VGG16 checkpoint: no features.{key} (or {key})')
    return out


@MODELS.register_module()
class VGGPerceptualLoss(nn.Module):
    """Mean over relu1_2, relu2_2, relu3_3 of the MSE between VGG16 features.

    As the official MSDA-CR loss: torchvision's ImageNet VGG16, frozen, and no
    ImageNet mean/std normalisation of the input. The official data are in
    [0, 1]; crbench tensors are in ``input_range`` (default [-1, 1]) and are
    mapped linearly to [0, 1] first, so the network sees what it saw
    officially. Target features carry no gradient.

    VGG takes 3 channels; the official loss therefore only runs on 3-band
    data. ``band_mode`` says what happens for other band counts:

    * ``'mean_rgb'``: the bands ``rgb_bands`` (default the first three: R, G,
      B for CUHK-CR and RICE) form one RGB image; the loss is the mean over the
      three layers. For 3-band RGB data this *is* the official loss. Other
      bands (e.g. NIR) do not contribute. For Sentinel-2's 13 bands pass
      ``rgb_bands=(3, 2, 1)``.
    * ``'per_band'``: each band is replicated to 3 channels and passed
      separately; the loss is averaged over bands (and layers), so every band
      counts equally. Works for any band count.

    Weights: ``weights_path``, else ``$CRBENCH_VGG16_WEIGHTS``, else torch
    hub's ``checkpoints/vgg16-397923af.pth``. Nothing is ever downloaded. If no
    file is found, a ``FileNotFoundError`` names the files looked at, unless
    ``allow_random=True`` (tests only: a random VGG gives a meaningless loss).
    """

    def __init__(self, weights_path: Optional[str] = None, allow_random: bool = False,
                 band_mode: str = 'mean_rgb', rgb_bands: Sequence[int] = (0, 1, 2),
                 input_range: Sequence[float] = (-1.0, 1.0)):
        super().__init__()
        if band_mode not in ('mean_rgb', 'per_band'):
            raise ValueError(f"band_mode must be 'mean_rgb' or 'per_band', got {band_mode!r}")
        if len(rgb_bands) != 3:
            raise ValueError(f'rgb_bands must name 3 bands, got {rgb_bands}')
        lo, hi = input_range
        if not hi > lo:
            raise ValueError(f'input_range must be (low, high) with high > low, got {input_range}')
        self.band_mode, self.rgb_bands = band_mode, tuple(int(b) for b in rgb_bands)
        self.input_range = (float(lo), float(hi))
        self.vgg = _vgg16_to_relu3_3()
        path, looked = resolve_vgg16_weights(weights_path)
        if path is not None:
            self.vgg.load_state_dict(load_vgg16_features(path))
            self.weights_file = str(path)
        elif allow_random:
            warnings.warn('VGGPerceptualLoss uses a RANDOM VGG16 (allow_random=True): '
                          'only for tests, the loss is meaningless.')
            self.weights_file = None
        else:
            raise FileNotFoundError(
                'VGGPerceptualLoss needs ImageNet VGG16 weights (torchvision '
                f'{HUB_FILE}); not found at: {", ".join(looked)}. Put the file there, '
                f'set ${WEIGHTS_ENV}, or pass weights_path.')
        self.vgg.requires_grad_(False)
        self.vgg.eval()

    def train(self, mode: bool = True):
        # The VGG stays frozen in eval mode whatever the framework does.
        super().train(mode)
        self.vgg.eval()
        return self

    def _to_vgg_input(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.input_range
        x = (x - lo) / (hi - lo)
        if self.band_mode == 'mean_rgb':
            if max(self.rgb_bands) >= x.shape[1]:
                raise ValueError(f"band_mode='mean_rgb' takes bands {self.rgb_bands} but the input "
                                 f"has {x.shape[1]}; use band_mode='per_band'")
            return x[:, list(self.rgb_bands)]
        b, c, h, w = x.shape
        return x.reshape(b * c, 1, h, w).expand(-1, 3, -1, -1)

    def features(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = []
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in _TAPS:
                feats.append(x)
        return feats

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.dim() != 4 or pred.shape != target.shape:
            raise ValueError('VGGPerceptualLoss expects pred and target of the same B×C×H×W '
                             f'shape, got {tuple(pred.shape)} and {tuple(target.shape)}')
        fp = self.features(self._to_vgg_input(pred))
        with torch.no_grad():
            ft = self.features(self._to_vgg_input(target))
        return sum(F.mse_loss(a, b) for a, b in zip(fp, ft)) / len(fp)

    def extra_repr(self) -> str:
        return (f'band_mode={self.band_mode!r}, rgb_bands={self.rgb_bands}, '
                f'input_range={self.input_range}, weights_file={self.weights_file!r}')
