"""Pix2Pix (Isola et al., CVPR 2017): U-Net-256 generator and 70×70 PatchGAN discriminator.

The networks of the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix, which
ermongroup/STGAN clones for its multi-temporal pix2pix) with batch normalisation:

* generator: 8 stride-2 4×4 down convolutions (64, 128, 256, 512 × 5; LeakyReLU 0.2, BN
  except the first and the innermost) and 8 transposed ones back (ReLU, BN, dropout 0.5 on
  the three innermost decoder stages after the bottleneck), U-Net skips; tanh output;
* discriminator: 4×4 convolutions 64 (stride 2) → 128 → 256 (stride 2, BN) → 512
  (stride 1, BN) → 1 logit per 70×70 patch, on (condition, image) stacked on channels.

One detail of the reference the skips depend on: its encoder activations are applied in
place, so every skip carries LeakyReLU(features), not the features themselves; the same is
done here. Weights start from N(0, 0.02) (BN scales N(1, 0.02), biases 0) as the reference's
``init_type='normal'``.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def init_normal(module: nn.Module, gain: float = 0.02) -> None:
    """The reference initialisation: conv weights N(0, gain), BN scales N(1, gain), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The reference's ``--norm``: 'batch' (affine BN) or 'instance' (no affine)."""
    if kind == 'batch':
        return nn.BatchNorm2d(channels)
    if kind == 'instance':
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', got {kind!r}")


def patchgan_layers(in_channels: int, ndf: int = 64, n_layers: int = 3,
                    norm: str = 'batch') -> list:
    """The reference ``NLayerDiscriminator``: a 4×4 stride-2 conv, ``n_layers`` convs of
    width ndf·min(2^n, 8) (stride 2, the last stride 1) with norm and LeakyReLU 0.2, and a
    1-channel 4×4 conv; convolutions before a norm carry a bias only with instance norm."""
    bias = norm == 'instance'
    layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
    width = ndf
    for n in range(1, n_layers + 1):
        out = ndf * min(2 ** n, 8)
        stride = 2 if n < n_layers else 1
        layers += [nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=bias),
                   norm_layer(norm, out), nn.LeakyReLU(0.2, inplace=True)]
        width = out
    layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
    return layers


class UNetLevel(nn.Module):
    """One U-Net level: down conv, the inner levels, up conv; returns [skip, up] (or, for
    the outermost level, the image)."""

    def __init__(self, outer: int, inner: int, inner_level: Optional[nn.Module] = None,
                 in_channels: Optional[int] = None, outermost: bool = False,
                 dropout: bool = False):
        super().__init__()
        in_channels = outer if in_channels is None else in_channels
        innermost = inner_level is None
        self.outermost = outermost
        self.down = nn.Conv2d(in_channels, inner, 4, stride=2, padding=1, bias=False)
        self.down_norm = None if (outermost or innermost) else nn.BatchNorm2d(inner)
        self.inner_level = inner_level
        up_in = inner if innermost else 2 * inner
        self.up = nn.ConvTranspose2d(up_in, outer, 4, stride=2, padding=1, bias=outermost)
        self.up_norm = None if outermost else nn.BatchNorm2d(outer)
        self.dropout = nn.Dropout(0.5) if dropout else None

    def forward(self, x):
        if not self.outermost:
            x = F.leaky_relu(x, 0.2)  # the skip carries the activated features (module doc)
        h = self.down(x)
        if self.down_norm is not None:
            h = self.down_norm(h)
        if self.inner_level is not None:
            h = self.inner_level(h)
        h = self.up(F.relu(h))
        if self.outermost:
            return torch.tanh(h)
        h = self.up_norm(h)
        if self.dropout is not None:
            h = self.dropout(h)
        return torch.cat((x, h), 1)


@MODELS.register_module()
class Pix2PixUNetGenerator(nn.Module):
    """U-Net generator (``unet_256``: ``num_downs=8``, 256 px → 1×1 bottleneck).

    Args:
        in_channels / out_channels: input and output bands (multi-temporal inputs stacked
            on channels: 3 dates × 4 bands = 12 on Sen2_MTC_New).
        ngf: width of the outermost level (64).
        num_downs: levels; the input side must be divisible by 2**num_downs.
        dropout: dropout 0.5 on the ``num_downs - 5`` innermost non-bottleneck levels.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64,
                 num_downs: int = 8, dropout: bool = True):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f'num_downs must be >= 5, got {num_downs}')
        self.in_channels, self.num_downs = in_channels, num_downs
        level = UNetLevel(8 * ngf, 8 * ngf)  # innermost
        for _ in range(num_downs - 5):
            level = UNetLevel(8 * ngf, 8 * ngf, level, dropout=dropout)
        for mult in (4, 2, 1):
            level = UNetLevel(mult * ngf, 2 * mult * ngf, level)
        self.net = UNetLevel(out_channels, ngf, level, in_channels=in_channels, outermost=True)
        init_normal(self)

    def forward(self, x):
        side = 2 ** self.num_downs
        if x.shape[1] != self.in_channels or x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f'Pix2PixUNetGenerator(in_channels={self.in_channels}, num_downs='
                             f'{self.num_downs}) needs B×{self.in_channels}×H×W with H, W '
                             f'multiples of {side}, got {tuple(x.shape)}')
        return self.net(x)


@MODELS.register_module()
class Pix2PixPatchDiscriminator(nn.Module):
    """PatchGAN (``basic``: ``n_layers=3``, 70×70 receptive field), conditional.

    Called as ``D(condition, image)``; ``in_channels`` is their channel sum.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3,
                 norm: str = 'batch'):
        super().__init__()
        self.in_channels = in_channels
        self.net = nn.Sequential(*patchgan_layers(in_channels, ndf, n_layers, norm))
        init_normal(self)

    def forward(self, condition, image):
        x = torch.cat((condition, image), 1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'Pix2PixPatchDiscriminator(in_channels={self.in_channels}) got '
                             f'{condition.shape[1]} condition + {image.shape[1]} image channels')
        return self.net(x)


__all__ = ['Pix2PixUNetGenerator', 'Pix2PixPatchDiscriminator', 'init_normal', 'norm_layer',
           'patchgan_layers']
