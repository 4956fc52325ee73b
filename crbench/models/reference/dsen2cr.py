"""DSen2-CR: the SAR-optical residual network of Meraner et al. (ISPRS J. 2020).

Written from the paper (Sec. 4.2, Fig. 3) and checked against the official
Keras build (ameraner/dsen2-cr, ``Code/dsen2cr_network.py``; see
configs/dsen2_cr/README.md for the parity check). The network is

    x   = concat(optical, sar)                           (SAR optional)
    h   = ReLU(conv3x3(x))                               F feature maps
    h   = h + s · conv3x3(ReLU(conv3x3(h)))              B residual blocks, s = 0.1
    out = optical + conv3x3(h)                           long skip: a residual on the cloudy image

All convolutions are 3×3, stride 1, zero 'same' padding, with bias; there is no
normalisation. The official hyper-parameters are B = 16, F = 256 (18.9 M
parameters with SAR). The network works in the official units (optical
reflectance / 2000, SAR dB mapped to [0, 2]); ``DSen2CRRestorer`` maps crbench's
[-1, 1] to them.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ScaledResidualBlock(nn.Module):
    """conv–ReLU–conv whose output is scaled by ``residual_scale`` before the skip add.

    The scaling (0.1, from EDSR/DSen2) keeps the sum of many blocks stable without
    normalisation layers.
    """

    def __init__(self, features: int, residual_scale: float):
        super().__init__()
        self.conv1 = _conv3x3(features, features)
        self.conv2 = _conv3x3(features, features)
        self.residual_scale = residual_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.conv2(F.relu(self.conv1(x)))


@MODELS.register_module()
class DSen2CR(nn.Module):
    """The DSen2-CR network: ``forward(optical, sar=None) -> optical estimate``.

    Args:
        optical_channels: bands of the cloudy image, which are also the output bands
            (the long skip adds the cloudy image to the output).
        sar_channels: SAR bands concatenated after the optical ones; 0 builds the
            official optical-only variant (``include_sar_input=False``).
        num_blocks: B, the number of residual blocks (16).
        features: F, the feature maps of every hidden layer (256).
        residual_scale: the factor on each block's residual branch (0.1).
    """

    def __init__(self, optical_channels: int = 13, sar_channels: int = 2, num_blocks: int = 16,
                 features: int = 256, residual_scale: float = 0.1):
        super().__init__()
        self.optical_channels, self.sar_channels = optical_channels, sar_channels
        self.head = _conv3x3(optical_channels + sar_channels, features)
        self.blocks = nn.Sequential(*(ScaledResidualBlock(features, residual_scale)
                                      for _ in range(num_blocks)))
        self.tail = _conv3x3(features, optical_channels)

    def forward(self, optical: torch.Tensor, sar: Optional[torch.Tensor] = None) -> torch.Tensor:
        if optical.dim() != 4 or optical.shape[1] != self.optical_channels:
            raise ValueError(f'DSen2CR expects a B×{self.optical_channels}×H×W optical image, '
                             f'got shape {tuple(optical.shape)}; set optical_channels to the '
                             f'dataset\'s cloudy bands')
        if self.sar_channels:
            if sar is None or sar.shape[1] != self.sar_channels:
                got = None if sar is None else tuple(sar.shape)
                raise ValueError(f'DSen2CR was built with sar_channels={self.sar_channels} '
                                 f'but got SAR {got}; pass the SAR image or set sar_channels=0')
            x = torch.cat([optical, sar], dim=1)
        elif sar is not None:
            raise ValueError('DSen2CR was built without SAR (sar_channels=0) but a SAR image '
                             'was passed; set sar_channels or drop "sar" from input_keys')
        else:
            x = optical
        return optical + self.tail(self.blocks(F.relu(self.head(x))))
