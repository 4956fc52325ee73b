"""STGAN (Sarukkai et al., WACV 2020): the spatio-temporal U-Net GAN of ermongroup/STGAN.

The ``unet_256_independent`` generator of the official README's training command
(``--model temporal_branched_ir --netG unet_256_independent --input_nc 4``): an
8-level U-Net whose encoder runs on each of the three dates separately and whose
decoder receives, at every level, the three dates' skip features.

Officially the three encoder "branches" are built from one list of layers, so they
share every weight; crbench builds one encoder and runs it per date (same function,
same parameter count). As in the official code, each skip feature is taken after the
next level's in-place LeakyReLU, so the decoder sees LeakyReLU(features).
"""
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS
from .pix2pix import init_normal, norm_layer, patchgan_layers


@MODELS.register_module()
class STGANGenerator(nn.Module):
    """Input: the dates folded into channels (B×T·C×H×W) or B×T×C×H×W; output B×out×H×W in [-1, 1].

    Encoder widths ngf·(1, 2, 4, 8, 8, 8, 8, 8); H and W must be divisible by 2^8
    (256 officially: the innermost map is 1×1).
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 3, num_frames: int = 3,
                 ngf: int = 64, norm: str = 'batch', num_downs: int = 8):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f'num_downs must be >= 5, got {num_downs}')
        self.in_channels, self.num_frames = in_channels, num_frames
        widths = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (num_downs - 3)
        bias = norm == 'instance'  # convolutions before a batch norm carry no bias
        self.encoder = nn.ModuleList()
        for level, cout in enumerate(widths):
            cin = in_channels if level == 0 else widths[level - 1]
            conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=bias)
            innermost = level == num_downs - 1
            # level 0: conv only; inner levels: norm after the conv; innermost: no norm
            self.encoder.append(nn.Sequential(conv) if level == 0 or innermost
                                else nn.Sequential(conv, norm_layer(norm, cout)))
        self.decoder = nn.ModuleList()
        for level in range(num_downs - 1, -1, -1):
            inner = widths[level]
            cin = num_frames * inner if level == num_downs - 1 else (num_frames + 1) * inner
            if level == 0:
                self.decoder.append(nn.ConvTranspose2d(cin, out_channels, 4, 2, 1))
            else:
                cout = widths[level - 1]
                self.decoder.append(nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias),
                                                  norm_layer(norm, cout)))
        init_normal(self)  # the reference's init_net(init_type='normal', init_gain=0.02)

    def encode(self, frame: torch.Tensor) -> List[torch.Tensor]:
        """Per-level features of one date; all but the first go through LeakyReLU first."""
        feats = [self.encoder[0](frame)]
        for block in self.encoder[1:]:
            feats.append(block(F.leaky_relu(feats[-1], 0.2)))
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.unflatten(1, (self.num_frames, -1))
        if x.dim() != 5 or x.shape[1] != self.num_frames or x.shape[2] != self.in_channels:
            raise ValueError(f'STGANGenerator expects B×{self.num_frames}×{self.in_channels}×H×W '
                             f'(or the dates folded into channels), got {tuple(x.shape)}')
        per_date = [self.encode(x[:, t]) for t in range(self.num_frames)]
        depth = len(self.encoder)
        # skips: LeakyReLU'd features of every level but the innermost (in-place in the official code)
        skips = [[F.leaky_relu(f[level], 0.2) for f in per_date] for level in range(depth - 1)]
        out = torch.cat([f[-1] for f in per_date], dim=1)
        for i, block in enumerate(self.decoder):
            level = depth - 1 - i
            out = block(F.relu(out))
            if level > 0:
                out = torch.cat(skips[level - 1] + [out], dim=1)
        return torch.tanh(out)


@MODELS.register_module()
class STGANDiscriminator(nn.Module):
    """pix2pix's 70×70 PatchGAN (``basic``, 3 layers; :func:`patchgan_layers`) on
    concat(condition, image); the official keys ``model.*`` become ``body.*``."""

    def __init__(self, in_channels: int = 15, ndf: int = 64, n_layers: int = 3, norm: str = 'batch'):
        super().__init__()
        self.in_channels = in_channels
        self.body = nn.Sequential(*patchgan_layers(in_channels, ndf, n_layers, norm))
        init_normal(self)  # the reference's init_net(init_type='normal', init_gain=0.02)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        x = torch.cat([condition, image], dim=1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'STGANDiscriminator(in_channels={self.in_channels}) got '
                             f'{condition.shape[1]} condition + {image.shape[1]} image channels')
        return self.body(x)
