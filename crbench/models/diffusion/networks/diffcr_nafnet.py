"""DiffCR's denoiser: a NAFNet U-Net with a separate condition encoder (Zou et al., TGRS 2024).

The network predicts the clean image x0 from the noisy image and the noise level
gamma (= alpha_bar, DiffCR Sec. III-B), guided by the cloudy frames:

* the noisy image goes through a stem and a NAFNet encoder whose blocks add a
  projection of the noise embedding after their attention half ("time-aware"
  blocks, DiffCR Fig. 3);
* every cloudy frame goes through its own stem and a parallel encoder of
  condition blocks (the same block without the noise input); after each encoder
  stage the condition features, summed over the frames, are added to the
  noisy-image features (the "condition encoder" of DiffCR Sec. III-C), before
  the skip connection and the down-sampling;
* a middle block, then a decoder of pixel-shuffle up-sampling, additive skips and
  time-aware blocks, and a 3x3 head.

Both encoders' blocks split the channel attention in two: half the channels are
re-weighted from their average-pooled descriptor, half from their max-pooled one
("decoupled" attention of DiffCR Sec. III-D). The noise level is embedded with
64 sinusoidal features of the raw scalar, then an MLP 64 -> 256 -> 256 shared by
all blocks.

Sizes are not constrained: the input is zero-padded on the bottom/right to a
multiple of 2^depth and the output keeps the padded size, as the reference build.

Module names (for the converter, ``crbench.converters.diffcr``): ``noisy_stem``,
``cond_stem``, ``encoders``, ``cond_encoders``, ``downs``, ``cond_downs``,
``middle``, ``ups``, ``decoders``, ``head``, ``noise_mlp``.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crbench.models.reference.layers import ChannelLayerNorm
from crbench.registry import MODELS


def sinusoidal_embedding(values: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """[cos(v f_i), sin(v f_i)] with f_i = max_period^(-i / (dim/2)) (Transformer features)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period)
                      * torch.arange(half, dtype=torch.float32, device=values.device) / half)
    args = values.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class DecoupledNAFBlock(nn.Module):
    """NAFNet block with average/max split channel attention; optionally noise-aware.

    ``x + scale_attn * attn(x)`` (+ the projected noise embedding when
    ``emb_dim``), then ``+ scale_ffn * ffn(...)``; both scales start at zero so
    every block starts as the identity.
    """

    def __init__(self, channels: int, emb_dim: Optional[int] = None, dw_expand: int = 2,
                 ffn_expand: int = 2):
        super().__init__()
        hidden = channels * dw_expand
        self.norm_attn = ChannelLayerNorm(channels)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        quarter = hidden // 4  # SimpleGate halves, the attention splits the half again
        self.attn_avg = nn.Conv2d(quarter, quarter, 1)
        self.attn_max = nn.Conv2d(quarter, quarter, 1)
        self.project = nn.Conv2d(hidden // 2, channels, 1)
        self.norm_ffn = ChannelLayerNorm(channels)
        self.ffn_in = nn.Conv2d(channels, channels * ffn_expand, 1)
        self.ffn_out = nn.Conv2d(channels * ffn_expand // 2, channels, 1)
        self.scale_attn = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale_ffn = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.time_proj = nn.Linear(emb_dim, channels) if emb_dim else None

    @staticmethod
    def _gate(x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        h = self._gate(self.depthwise(self.expand(self.norm_attn(x))))
        h_avg, h_max = h.chunk(2, dim=1)
        h_avg = h_avg * self.attn_avg(F.adaptive_avg_pool2d(h_avg, 1))
        h_max = h_max * self.attn_max(F.adaptive_max_pool2d(h_max, 1))
        y = x + self.scale_attn * self.project(torch.cat([h_avg, h_max], dim=1))
        if self.time_proj is not None:
            y = y + self.time_proj(F.silu(emb))[..., None, None]
        return y + self.scale_ffn * self.ffn_out(self._gate(self.ffn_in(self.norm_ffn(y))))


class _Stage(nn.ModuleList):
    """Blocks applied in order, each given the noise embedding (or None)."""

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        for block in self:
            x = block(x, emb)
        return x


class PixelShuffleUp(nn.Module):
    """1x1 conv to 2C channels, then pixel shuffle: C -> C/2 channels at twice the size."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 2, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


@MODELS.register_module()
class DiffCRNAFNet(nn.Module):
    """DiffCR denoiser (module docstring): ``forward(x, gamma, cond) -> x0_hat``.

    Args:
        in_channels: bands of the noisy image x (and of the output).
        cond_channels: bands of each condition frame (None: ``in_channels``).
        out_channels: bands of the prediction (None: ``in_channels``; the
            reference build hard-codes 3).
        width: channels of the first stage (doubled at every down-sampling).
        enc_blocks, dec_blocks: blocks per encoder / decoder stage.
        middle_blocks: blocks at the bottom.
        emb_dim: width of the noise-level MLP (the reference: 256).
        freq_dim: sinusoidal features of the noise level (the reference: 64).

    ``x``: B×in×H×W; ``gamma``: [B] (or B×1) noise level; ``cond``: B×L×C×H×W
    (L frames, summed after every condition stage) or B×C×H×W (one frame).
    """

    def __init__(self, in_channels: int = 3, cond_channels: Optional[int] = None,
                 out_channels: Optional[int] = None, width: int = 64,
                 enc_blocks: Sequence[int] = (1, 1, 1, 1), middle_blocks: int = 1,
                 dec_blocks: Sequence[int] = (1, 1, 1, 1), emb_dim: int = 256,
                 freq_dim: int = 64):
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(f'enc_blocks {list(enc_blocks)} and dec_blocks {list(dec_blocks)} '
                             'need the same number of stages')
        self.in_channels = in_channels
        self.cond_channels = cond_channels or in_channels
        out_channels = out_channels or in_channels
        self.freq_dim = freq_dim
        self.noisy_stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.cond_stem = nn.Conv2d(self.cond_channels, width, 3, padding=1)
        self.head = nn.Conv2d(width, out_channels, 3, padding=1)
        self.encoders, self.cond_encoders = nn.ModuleList(), nn.ModuleList()
        self.downs, self.cond_downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blocks:
            self.encoders.append(_Stage(DecoupledNAFBlock(chan, emb_dim) for _ in range(num)))
            self.cond_encoders.append(_Stage(DecoupledNAFBlock(chan) for _ in range(num)))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            self.cond_downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            chan *= 2
        self.middle = _Stage(DecoupledNAFBlock(chan, emb_dim) for _ in range(middle_blocks))
        for num in dec_blocks:
            self.ups.append(PixelShuffleUp(chan))
            chan //= 2
            self.decoders.append(_Stage(DecoupledNAFBlock(chan, emb_dim) for _ in range(num)))
        self.multiple = 2 ** len(enc_blocks)
        self.noise_mlp = nn.Sequential(nn.Linear(freq_dim, emb_dim), nn.SiLU(),
                                       nn.Linear(emb_dim, emb_dim))

    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        return F.pad(x, (0, (m - w % m) % m, 0, (m - h % m) % m))

    def forward(self, x: Tensor, gamma: Tensor, cond: Tensor) -> Tensor:
        if cond.dim() == 4:
            cond = cond.unsqueeze(1)
        b, frames = cond.shape[:2]
        if x.shape[1] != self.in_channels or cond.shape[2] != self.cond_channels:
            raise ValueError(f'DiffCRNAFNet expects x with {self.in_channels} bands and condition '
                             f'frames with {self.cond_channels}; got x {tuple(x.shape)}, cond '
                             f'{tuple(cond.shape)}')
        emb = self.noise_mlp(sinusoidal_embedding(gamma.reshape(-1), self.freq_dim))
        h = self.noisy_stem(self._pad(x))
        c = self.cond_stem(self._pad(cond.flatten(0, 1)))
        skips = []
        for encoder, down, cond_encoder, cond_down in zip(self.encoders, self.downs,
                                                          self.cond_encoders, self.cond_downs):
            h = encoder(h, emb)
            c = cond_encoder(c)
            h = h + c.view(b, frames, *c.shape[1:]).sum(dim=1)  # frames fused by summation
            skips.append(h)
            h, c = down(h), cond_down(c)
        h = self.middle(h, emb)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            h = decoder(up(h) + skip, emb)
        return self.head(h)
