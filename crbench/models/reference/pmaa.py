"""PMAA: progressive multi-scale attention autoencoder (Zou et al., ECAI 2023).

Multi-temporal cloud removal: a shared per-date encoder (:class:`PMAAFrameEncoder`,
with a cloud-attention head and an auxiliary image head) turns each of the T cloudy
dates into features; the T feature maps are concatenated and pass three progressive
multi-scale attention blocks (:class:`PMAABlock`, paper Sec. 3.2 "MAM"), then a 1x1
convolution and tanh give the image.

As trained officially on Sen2_MTC_New (docs/models.md): ``dim=32``, four bands in and
out, and every batch norm of the generator replaced by a non-affine instance norm.
That replacement also removes the ReLU that the depthwise-separable units carried in
their fused norm+activation, so those units here have none (``act`` below is off).
The frozen cloud-detection teacher of the attention loss is the same encoder with batch
norms (``norm='batch'``), built with :func:`pmaa_teacher`.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS
from .layers import ChannelLayerNorm


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == 'instance':
        return nn.InstanceNorm2d(channels)  # affine=False: no parameters, per-image statistics
    if kind == 'batch':
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be 'instance' or 'batch', got {kind!r}")


def _conv_norm_relu(cin: int, cout: int, kernel: int, norm: str, dilation: int = 1,
                    bias: bool = False) -> List[nn.Module]:
    pad = dilation * (kernel - 1) // 2
    return [nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=bias),
            _norm(norm, cout), nn.ReLU(inplace=True)]


class ResidualBottleneck(nn.Module):
    """1x1 - dilated 3x3 - 1x1, each with norm and ReLU (the residual is added by the caller)."""

    def __init__(self, dim: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(*_conv_norm_relu(dim, dim, 1, norm),
                                  *_conv_norm_relu(dim, dim, 3, norm, dilation=2),
                                  *_conv_norm_relu(dim, dim, 1, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class AtrousPyramid(nn.Module):
    """ASPP: a 1x1 branch, three dilated 3x3 branches and an image-pooling branch, projected back."""

    def __init__(self, dim: int, hidden: int, rates: Sequence[int], norm: str, pooled_norm: bool):
        super().__init__()
        branches = [nn.Sequential(*_conv_norm_relu(dim, hidden, 1, norm))]
        branches += [nn.Sequential(*_conv_norm_relu(dim, hidden, 3, norm, dilation=r)) for r in rates]
        pooled = [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, hidden, 1, bias=False)]
        # The generator's pooled branch has no norm; the teacher's has a batch norm.
        pooled += [_norm(norm, hidden)] if pooled_norm else []
        branches.append(nn.Sequential(*pooled, nn.ReLU(inplace=True)))
        self.branches = nn.ModuleList(branches)
        self.project = nn.Sequential(*_conv_norm_relu((len(rates) + 2) * hidden, dim, 1, norm),
                                     nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        outs = [b(x) for b in self.branches[:-1]]
        outs.append(F.interpolate(self.branches[-1](x), size=size, mode='bilinear',
                                  align_corners=False))
        return self.project(torch.cat(outs, dim=1))


@MODELS.register_module()
class PMAAFrameEncoder(nn.Module):
    """Per-date encoder: features, a cloud-attention map and an auxiliary image.

    Returns ``(mask, features, aux)``: the sigmoid cloud map (B×1×H×W) of the
    second attention stage, the ASPP features (B×dim×H×W), and a tanh image
    (B×in_channels×H×W) used by the optional auxiliary loss.
    """

    def __init__(self, in_channels: int = 4, dim: int = 32, aspp_hidden: int = 128,
                 aspp_rates: Sequence[int] = (12, 24, 36), norm: str = 'instance',
                 pooled_norm: bool = False):
        super().__init__()
        self.stem = nn.Sequential(*_conv_norm_relu(in_channels, dim, 3, norm))
        cloud = [*_conv_norm_relu(dim, 2 * dim, 1, norm, bias=True),
                 *_conv_norm_relu(2 * dim, 4 * dim, 1, norm, bias=True),
                 nn.Conv2d(4 * dim, 1, 1), nn.Sigmoid()]
        self.cloud_head = nn.Sequential(*cloud)  # shared by both attention stages
        self.bottlenecks = nn.ModuleList(ResidualBottleneck(dim, norm) for _ in range(6))
        self.aspp = AtrousPyramid(dim, aspp_hidden, aspp_rates, norm, pooled_norm)
        self.aux_head = nn.Conv2d(dim, in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = self.bottlenecks
        out = self.stem(x)
        out = F.relu(b[0](out) + out)
        mask = self.cloud_head(out)
        for block in b[1:3]:  # bottlenecks gated by the first attention map
            out = F.relu(block(out) * mask + out)
        mask = self.cloud_head(out)
        for block in b[3:5]:
            out = F.relu(block(out) * mask + out)
        out = F.relu(b[5](out) + out)
        out = self.aspp(out)
        return mask, out, torch.tanh(self.aux_head(out))


class SeparableUnit(nn.Module):
    """Spatial conv - norm - 1x1 conv - norm, with a skip when shapes allow (no activation)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.spatial = nn.Conv2d(cin, cin, kernel, stride=stride, padding=(kernel - 1) // 2,
                                 groups=groups, bias=False)
        self.norm1 = nn.InstanceNorm2d(cin)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.norm2 = nn.InstanceNorm2d(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm2(self.pointwise(self.norm1(self.spatial(x))))
        return y + x if self.skip else y


class ConvModulationBlock(nn.Module):
    """Conv2Former block on the coarsest scale: large-kernel convolutional modulation
    (the "attention") and a conv MLP, each scaled by a learned per-channel factor."""

    def __init__(self, dim: int, mlp_ratio: int = 4, drop_path: float = 0.1):
        super().__init__()
        hidden = dim * mlp_ratio
        self.attn_norm = ChannelLayerNorm(dim)
        self.attn_gate = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(),
                                       nn.Conv2d(dim, dim, 11, padding=5, groups=dim))
        self.attn_value = nn.Conv2d(dim, dim, 1)
        self.attn_proj = nn.Conv2d(dim, dim, 1)
        self.mlp_norm = ChannelLayerNorm(dim)
        self.mlp_in = nn.Conv2d(dim, hidden, 1)
        self.mlp_pos = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.mlp_out = nn.Conv2d(hidden, dim, 1)
        self.scale_attn = nn.Parameter(1e-6 * torch.ones(dim))
        self.scale_mlp = nn.Parameter(1e-6 * torch.ones(dim))
        self.drop_path = float(drop_path)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        # Stochastic depth per sample, training only.
        if not self.training or self.drop_path == 0:
            return x
        keep = 1 - self.drop_path
        mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * mask / keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attn_norm(x)
        h = self.attn_proj(self.attn_gate(h) * self.attn_value(h))
        x = x + self._drop(self.scale_attn[:, None, None] * h)
        h = F.gelu(self.mlp_in(self.mlp_norm(x)))
        h = self.mlp_out(h + F.gelu(self.mlp_pos(h)))
        return x + self._drop(self.scale_mlp[:, None, None] * h)


class GatedInjection(nn.Module):
    """local·σ(gate(global)) + embed(global), the global map resized (nearest) to the local one.
    Depthwise ``kernel``×``kernel`` convolutions, each followed by an instance norm."""

    def __init__(self, dim: int, kernel: int = 1):
        super().__init__()

        def branch():
            return nn.Sequential(nn.Conv2d(dim, dim, kernel, padding=(kernel - 1) // 2,
                                           groups=dim, bias=False), nn.InstanceNorm2d(dim))
        self.local, self.embed, self.gate = branch(), branch(), branch()

    def forward(self, local: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        size = local.shape[-2:]
        gate = F.interpolate(torch.sigmoid(self.gate(glob)), size=size)
        return self.local(local) * gate + F.interpolate(self.embed(glob), size=size)


class PMAABlock(nn.Module):
    """Progressive multi-scale attention block: a ``depth``-level pyramid of strided
    units, a global context (sum of all levels pooled to the coarsest, refined by a
    :class:`ConvModulationBlock`) injected into every level, then a coarse-to-fine merge.

    ``in_channels`` = 3·``out_channels`` (the concatenated frames) sums the frames as the
    residual, as the official block does for its first use.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, depth: int = 5):
        super().__init__()
        self.depth, self.out_channels = depth, out_channels
        self.project_in = SeparableUnit(in_channels, hidden, 1, groups=in_channels)
        self.pyramid = nn.ModuleList([SeparableUnit(hidden, hidden, 3)] +
                                     [SeparableUnit(hidden, hidden, 3, stride=2)
                                      for _ in range(depth - 1)])
        self.inject = nn.ModuleList(GatedInjection(hidden) for _ in range(depth))
        self.global_attention = ConvModulationBlock(hidden)
        self.merge = nn.ModuleList(GatedInjection(hidden, kernel=5) for _ in range(depth - 1))
        self.project_out = nn.Conv2d(hidden, out_channels, 1)
        self.sum_frames = in_channels == 3 * out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        residual = x.view(b, -1, self.out_channels, h, w).sum(1) if self.sum_frames else x
        levels = [self.pyramid[0](self.project_in(x))]
        for unit in self.pyramid[1:]:
            levels.append(unit(levels[-1]))
        coarse = levels[-1].shape[-2:]
        glob = sum(F.adaptive_avg_pool2d(f, coarse) for f in levels)
        glob = self.global_attention(glob)
        fused = [inj(f, glob) for inj, f in zip(self.inject, levels)]
        # The official merge starts at level depth-2 with level depth-3 as its "global"
        # input and never uses the coarsest fused level; kept for weight compatibility.
        top = self.depth - 2
        out = self.merge[top](fused[top], fused[top - 1])
        for i in range(top - 1, -1, -1):
            out = self.merge[i](fused[i], out)
        return self.project_out(out) + residual


@MODELS.register_module()
class PMAA(nn.Module):
    """PMAA generator. Input B×T×C×H×W (T dates); returns ``(image, masks, aux)``:
    the B×out_channels×H×W tanh image, and per date the cloud map and the auxiliary
    image of :class:`PMAAFrameEncoder`. Official Sen2_MTC_New build: ``dim=32``,
    ``in_channels=out_channels=4``, T = 3 (3,439,689 parameters).
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 4, dim: int = 32,
                 num_frames: int = 3, depth: int = 5, refine_blocks: int = 2,
                 aspp_hidden: int = 128):
        super().__init__()
        if num_frames != 3:
            # The first block sums the frames only when it sees 3·dim channels (official).
            raise ValueError(f'PMAA fuses exactly 3 dates (official design), got num_frames={num_frames}')
        self.num_frames = num_frames
        self.encoder = PMAAFrameEncoder(in_channels, dim, aspp_hidden)
        self.fusion = PMAABlock(dim * num_frames, dim * 4, dim, depth)
        self.refine = nn.Sequential(*[PMAABlock(dim, dim * 4, dim, depth)
                                      for _ in range(refine_blocks)])
        self.head = nn.Conv2d(dim, out_channels, 1)

    def forward(self, x: torch.Tensor):
        if x.dim() != 5 or x.shape[1] != self.num_frames:
            raise ValueError(f'PMAA expects B×{self.num_frames}×C×H×W, got {tuple(x.shape)}')
        masks, feats, aux = [], [], []
        for t in range(x.shape[1]):
            m, f, a = self.encoder(x[:, t])
            masks.append(m)
            feats.append(f)
            aux.append(a)
        out = self.refine(self.fusion(torch.cat(feats, dim=1)))
        return torch.tanh(self.head(out)), masks, aux


def pmaa_teacher(in_channels: int = 4, dim: int = 32, aspp_hidden: int = 128) -> PMAAFrameEncoder:
    """The frozen cloud-detection network of PMAA's attention loss (batch norms, official
    ``Feature_Extrator_FS2.pth``)."""
    return PMAAFrameEncoder(in_channels, dim, aspp_hidden, norm='batch', pooled_norm=True)


@MODELS.register_module()
class PMAADiscriminator(nn.Module):
    """PatchGAN of PMAA: D(concat(frames folded into channels, image)); five stride-2
    4x4 convolutions (batch norm after all but the first) and a 4x4 stride-1 output."""

    def __init__(self, in_channels: int = 16, base: int = 64):
        super().__init__()
        chans = [base, base, base * 2, base * 4, base * 8]
        layers = [nn.Conv2d(in_channels, base, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(chans[-1], 1, 4, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
