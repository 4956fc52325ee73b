"""Building blocks shared by several reference networks."""
import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels of each pixel of a B×C×H×W map (biased variance,
    eps 1e-6), with a per-channel scale and shift: NAFNet's ``LayerNorm2d``, used by DiffCR's
    NAFNet and PMAA's Conv2Former blocks. State-dict keys: ``weight``, ``bias``."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


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
