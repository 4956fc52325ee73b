"""UnCRtainTS (Ebel et al., CVPRW 2023): attention-based time-series cloud removal with
aleatoric uncertainty (docs/models.md; configs/uncrtaints/README.md).

The network has no down-sampling at all: a 1×1 stem and MBConv blocks encode every date at
full resolution, a tiny L-TAE (lightweight temporal attention encoder) computes per-head
attention masks over the dates at 32×32, the masks are resized to full resolution and
average the encoded dates channel group by channel group, and MBConv blocks decode the
aggregated map. A 1×1 head predicts the mean bands and, optionally, one variance per band
(diagonal covariance) or one shared variance (isotropic). Mono-temporal models
(``mono_temporal=True``) skip the attention.

The network works in the official value range: inputs are reflectances in [0, 1] multiplied
by ``scale_by`` (the framework does that), means are ``scale_by · sigmoid(·)`` and variances
``softplus(·) + eps`` in the same scaled units.
"""
import math
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from crbench.registry import MODELS


def norm_layer(kind: str, channels: int, groups: int = 4) -> nn.Module:
    if kind == 'batch':
        return nn.BatchNorm2d(channels)
    if kind == 'group':
        return nn.GroupNorm(groups, channels)
    if kind == 'instance':
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}; use 'batch', 'group' or 'instance'")


def per_frame(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-D module to every date of a B×T×C×H×W tensor (4-D tensors pass through)."""
    if x.dim() == 4:
        return module(x)
    b, t = x.shape[:2]
    y = module(x.reshape(b * t, *x.shape[2:]))
    return y.reshape(b, t, *y.shape[1:])


class SqueezeExcite(nn.Module):
    """Channel gating from the global average (bias-free, GELU, hidden = block input / 4)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.reduce = nn.Linear(channels, hidden, bias=False)
        self.expand = nn.Linear(hidden, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.expand(F.gelu(self.reduce(x.mean(dim=(2, 3))))))
        return x * gate[:, :, None, None]


class MBConvBlock(nn.Module):
    """Pre-normalised inverted residual: x + proj(SE(dw(expand(norm(x)))))."""

    def __init__(self, channels: int, norm: str, expansion: int = 2):
        super().__init__()
        hidden = channels * expansion
        self.pre_norm = norm_layer(norm, channels)
        self.expand = nn.Conv2d(channels, hidden, 1, bias=False)
        self.expand_norm = norm_layer(norm, hidden)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode='reflect',
                                   groups=hidden, bias=False)
        self.depthwise_norm = norm_layer(norm, hidden)
        self.se = SqueezeExcite(hidden, channels // 4)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)
        self.project_norm = norm_layer(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.expand_norm(self.expand(self.pre_norm(x))))
        y = F.gelu(self.depthwise_norm(self.depthwise(y)))
        return x + self.project_norm(self.project(self.se(y)))


def sinusoid_positions(positions: torch.Tensor, dim: int, period: float = 1000.0) -> torch.Tensor:
    """B×T day offsets -> B×T×dim sinusoids (sin on even, cos on odd features; L-TAE)."""
    exponent = 2 * (torch.arange(dim, device=positions.device) // 2).float() / dim
    angles = positions[..., None].float() / torch.pow(period, exponent)
    return torch.where(torch.arange(dim, device=positions.device) % 2 == 0,
                       torch.sin(angles), torch.cos(angles))


class TemporalAttentionMasks(nn.Module):
    """The tiny L-TAE: per pixel, ``n_head`` learnt queries attend over the dates.

    Only the attention masks are returned (n_head×B×T×h×w); values are never computed.
    """

    def __init__(self, channels: int, n_head: int, d_model: int, d_k: int,
                 positional_encoding: bool, period: float = 1000.0):
        super().__init__()
        self.n_head, self.d_k, self.d_model, self.period = n_head, d_k, d_model, period
        self.positional_encoding = positional_encoding
        self.in_norm = nn.GroupNorm(n_head, channels)
        self.in_proj = nn.Linear(channels, d_model)
        self.queries = nn.Parameter(torch.randn(n_head, d_k) * math.sqrt(2.0 / d_k))
        self.key_proj = nn.Linear(d_model, n_head * d_k)
        nn.init.normal_(self.key_proj.weight, std=math.sqrt(2.0 / d_k))

    def forward(self, x: torch.Tensor, pad_mask: Optional[torch.Tensor] = None,
                positions: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, t, c, h, w = x.shape
        tokens = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, t, c)   # one sequence per pixel
        tokens = self.in_norm(tokens.transpose(1, 2)).transpose(1, 2)
        tokens = self.in_proj(tokens)
        if self.positional_encoding:
            if positions is None:
                raise ValueError('this UnCRtainTS uses positional encoding: pass the dates '
                                 '(B×T day offsets) or set positional_encoding=False')
            enc = sinusoid_positions(positions, self.d_model // self.n_head, self.period)
            enc = enc.repeat(1, 1, self.n_head)                      # B×T×d_model
            tokens = tokens + enc[:, None, None].expand(b, h, w, t, -1).reshape(b * h * w, t, -1)
        keys = self.key_proj(tokens).view(b * h * w, t, self.n_head, self.d_k)
        logits = torch.einsum('nthk,hk->hnt', keys, self.queries) / math.sqrt(self.d_k)
        if pad_mask is not None:
            pixel_mask = pad_mask[:, None, None, :].expand(b, h, w, t).reshape(b * h * w, t)
            logits = logits.masked_fill(pixel_mask[None], -1e3)
        attn = logits.softmax(dim=-1)                                # n_head × (B·h·w) × T
        return attn.view(self.n_head, b, h, w, t).permute(0, 1, 4, 2, 3)


@MODELS.register_module()
class UnCRtainTS(nn.Module):
    """UnCRtainTS network.

    Args:
        in_channels: bands per date (e.g. 2 SAR + 13 optical on SEN12MS-CR, 4 on Sen2_MTC_New).
        out_channels: predicted mean bands.
        covariance: ``'diag'`` (one variance per band), ``'iso'`` (one shared variance) or
            ``None`` (mean only, the L2 model).
        width: feature channels (the official ``encoder_widths = [128]``).
        encoder_blocks / decoder_blocks: MBConv blocks before / after the aggregation (1 / 5).
        encoder_norm / decoder_norm: ``'group'`` / ``'batch'`` as in the official models.
        mono_temporal: single-date model without temporal attention (official ``pretrain``).
        n_head, d_model, d_k: L-TAE heads, projection width, key width (16, 256, 4).
        positional_encoding: add sinusoids of the acquisition dates before the attention
            (needs ``positions``; Sen2_MTC_New has no dates).
        attention_size: the attention runs on features max-pooled to this size (32).
        scale_by: means are ``scale_by · sigmoid``; the variance floor is 1e-3 (1e-9 when
            ``scale_by`` is 1), as officially.
        pad_value: dates whose inputs all equal this value are padding and get no attention.
    """

    def __init__(self, in_channels: int, out_channels: int, covariance: Optional[str] = 'diag',
                 width: int = 128, encoder_blocks: int = 1, decoder_blocks: int = 5,
                 encoder_norm: str = 'group', decoder_norm: str = 'batch',
                 mono_temporal: bool = False, n_head: int = 16, d_model: int = 256, d_k: int = 4,
                 positional_encoding: bool = True, attention_size: int = 32,
                 attention_dropout: float = 0.1, scale_by: float = 1.0,
                 pad_value: Optional[float] = 0.0):
        super().__init__()
        if covariance not in ('diag', 'iso', None):
            raise ValueError(f"covariance must be 'diag', 'iso' or None, got {covariance!r}")
        if width % 4 or (not mono_temporal and width % n_head):
            raise ValueError(f'width {width} must be divisible by 4 and by n_head {n_head}')
        self.out_channels = out_channels
        self.var_channels = {'diag': out_channels, 'iso': 1, None: 0}[covariance]
        self.covariance = covariance
        self.mono_temporal = mono_temporal
        self.attention_size = attention_size
        self.scale_by = float(scale_by)
        self.var_floor = 1e-9 if self.scale_by == 1.0 else 1e-3
        self.pad_value = pad_value

        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 1), nn.GroupNorm(4, width),
                                  nn.ReLU())
        self.encoder = nn.ModuleList(MBConvBlock(width, encoder_norm)
                                     for _ in range(encoder_blocks))
        if not mono_temporal:
            self.attention = TemporalAttentionMasks(width, n_head, d_model, d_k,
                                                    positional_encoding)
            self.attention_dropout = nn.Dropout(attention_dropout)
        self.decoder = nn.ModuleList(MBConvBlock(width, decoder_norm)
                                     for _ in range(decoder_blocks))
        self.head = nn.Conv2d(width, out_channels + self.var_channels, 1)

    def aggregate(self, feats: torch.Tensor, attn: torch.Tensor,
                  pad_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Attention-weighted sum over dates, head h weighting channel group h (att_group)."""
        n_head, b, t, h, w = attn.shape
        size = feats.shape[-2:]
        attn = attn.reshape(n_head * b, t, h, w)
        if size[0] > h:
            attn = self.attention_dropout(F.interpolate(attn, size=size, mode='bilinear',
                                                        align_corners=False))
        else:
            attn = F.avg_pool2d(attn, kernel_size=w // size[1])
        attn = attn.view(n_head, b, t, *size)
        if pad_mask is not None and pad_mask.any():
            attn = attn * (~pad_mask).float()[None, :, :, None, None]
        groups = torch.stack(feats.chunk(n_head, dim=2))           # n_head×B×T×C/n_head×H×W
        return (attn[:, :, :, None] * groups).sum(dim=2).transpose(0, 1).flatten(1, 2)

    def forward(self, x: torch.Tensor, positions: Optional[torch.Tensor] = None) -> torch.Tensor:
        """B×T×C×H×W (or B×C×H×W for mono-temporal models) -> B×(C_out + C_var)×H×W."""
        if x.dim() == 4:
            x = x[:, None]
        if x.dim() != 5:
            raise ValueError(f'UnCRtainTS expects B×T×C×H×W inputs, got shape {tuple(x.shape)}')
        feats = per_frame(self.stem, x)
        for block in self.encoder:
            feats = per_frame(block, feats)
        if self.mono_temporal:
            if feats.shape[1] != 1:
                raise ValueError(f'a mono-temporal UnCRtainTS got {feats.shape[1]} dates')
            out = feats[:, 0]
        else:
            pad_mask = None
            if self.pad_value is not None:
                pad_mask = (x == self.pad_value).flatten(2).all(dim=-1)   # B×T
            b, t = feats.shape[:2]
            low = F.adaptive_max_pool2d(feats.flatten(0, 1), self.attention_size)
            attn = self.attention(low.view(b, t, *low.shape[1:]), pad_mask, positions)
            out = self.aggregate(feats, attn, pad_mask)
        for block in self.decoder:
            out = block(out)
        out = self.head(out)
        mean = self.scale_by * torch.sigmoid(out[:, :self.out_channels])
        if not self.var_channels:
            return mean
        var = F.softplus(out[:, self.out_channels:]) + self.var_floor
        return torch.cat([mean, var], dim=1)

    def split(self, out: torch.Tensor) -> List[Optional[torch.Tensor]]:
        """[mean, variance (B×C_out×H×W, iso broadcast) or None] of a forward output."""
        mean = out[:, :self.out_channels]
        if not self.var_channels:
            return [mean, None]
        var = out[:, self.out_channels:]
        return [mean, var.expand_as(mean) if self.var_channels == 1 else var]
