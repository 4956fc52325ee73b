"""Building blocks shared by several reference networks."""
import torch
import torch.nn.functional as F
from torch import nn


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: global mean → 1×1 (C/r) → ReLU → 1×1 (C) → sigmoid → × x.

    Used by MemoryNet's CAB (``bias`` as configured), MSDA-CR's residual dense
    block and CVAE's decoder (r = 4, with bias). State-dict keys: ``down.*``, ``up.*``.
    """

    def __init__(self, channels: int, reduction: int = 4, bias: bool = True):
        super().__init__()
        self.down = nn.Conv2d(channels, channels // reduction, 1, bias=bias)
        self.up = nn.Conv2d(channels // reduction, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.up(F.relu(self.down(w))))
