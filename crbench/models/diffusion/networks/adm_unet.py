"""ADM-style U-Net ("guided diffusion" family) and DE's two instances of it.

DE (Sui et al., TGRS 2024) uses two U-Nets of the ADM family (DE Table IV,
docs/models.md section 2.1):

* ``DECNP``, the conditional noise predictor: predicts the noise of DE Eq. 8
  from ``concat(x_t, y)`` (``y`` the cloudy image, bilinearly resized to the
  size of ``x_t``). 96 channels, multipliers (1, 1, 2, 2, 3), 2 ResBlocks per
  level, attention at downsample factors 4 and 8 and in the middle, 4 heads,
  scale-shift (FiLM) time conditioning. 32,144,740 parameters for 4 bands.
* ``DEWeightNet``, the weight-allocation (WA) network: predicts the pixel-wise
  fusion ratio W of DE Eq. 12 from ``concat(x_t, y, x_{0,E})`` (3 x bands
  channels), 64 channels, multipliers (1, 1, 2), attention at factor 4 and in
  the middle, 1 head, additive time conditioning. Its output is linear (no
  sigmoid) and its last convolution starts at zero, so W starts at 0.
  4,660,484 parameters for 4 bands (4,658,179 for 3).

The architecture of both is fixed by the official ``large_size=64`` defaults
even when images are 256x256 (docs/models.md section 2.1).

Module names follow the ADM layout (``time_embed``, ``input_blocks``,
``middle_block``, ``output_blocks``, ``out``; ResBlocks with ``in_layers``,
``emb_layers``, ``out_layers``, ``skip_connection``; attention with ``norm``,
``qkv``, ``proj_out``) so that an official ``SuperResModel`` state dict maps
onto ``DECNP`` key for key, and its ``sjlnet.*`` entries onto ``DEWeightNet``
once that prefix is removed. The multi-head split is ADM's "legacy" order
(per head, q, k and v are contiguous in the qkv channels).
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as grad_checkpoint

from crbench.registry import MODELS


def timestep_embedding(timesteps: torch.Tensor, dim: int,
                       max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (integer or fractional) timesteps, N -> N x dim.

    The first half holds cosines, the second half sines, of ``t * f_k`` with
    frequencies ``f_k = max_period ** (-k / half)``; an odd ``dim`` gets one
    zero column. Timesteps are used raw (no rescaling to [0, 1000)).
    """
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=timesteps.device)
    freqs = torch.exp(-math.log(max_period) * k / half)
    angles = timesteps.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _zeroed(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class TimestepBlock(nn.Module):
    """A block whose forward also takes the time embedding."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class TimestepSequential(nn.Sequential):
    """``nn.Sequential`` that passes the time embedding to ``TimestepBlock`` s."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Downsample(nn.Module):
    """3x3 convolution with stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class ResBlock(TimestepBlock):
    """GroupNorm-SiLU-conv, time conditioning, GroupNorm-SiLU-dropout-conv(0).

    With ``scale_shift`` the embedding gives (scale, shift) applied after the
    second normalisation as ``norm(h) * (1 + scale) + shift`` (FiLM);
    otherwise it is added to the features before that normalisation.
    """

    def __init__(self, channels: int, emb_channels: int, out_channels: int,
                 dropout: float = 0.0, scale_shift: bool = True,
                 norm_groups: int = 32, use_checkpoint: bool = False):
        super().__init__()
        self.scale_shift = scale_shift
        self.use_checkpoint = use_checkpoint
        self.in_layers = nn.Sequential(
            nn.GroupNorm(norm_groups, channels), nn.SiLU(),
            nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(
            nn.SiLU(),
            nn.Linear(emb_channels, out_channels * (2 if scale_shift else 1)))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(norm_groups, out_channels), nn.SiLU(), nn.Dropout(dropout),
            _zeroed(nn.Conv2d(out_channels, out_channels, 3, padding=1)))
        self.skip_connection = (nn.Identity() if out_channels == channels
                                else nn.Conv2d(channels, out_channels, 1))

    def forward(self, x, emb):
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return grad_checkpoint(self._forward, x, emb, use_reentrant=False)
        return self._forward(x, emb)

    def _forward(self, x, emb):
        h = self.in_layers(x)
        e = self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Residual multi-head self-attention over all pixels (ADM legacy split)."""

    def __init__(self, channels: int, num_heads: int = 1, norm_groups: int = 32,
                 use_checkpoint: bool = False):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'{channels} channels cannot be split into {num_heads} heads')
        self.num_heads = num_heads
        self.use_checkpoint = use_checkpoint
        self.norm = nn.GroupNorm(norm_groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = _zeroed(nn.Conv1d(channels, channels, 1))

    def forward(self, x):
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return grad_checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)

    def _forward(self, x):
        b, c, hgt, wid = x.shape
        seq = x.reshape(b, c, hgt * wid)
        qkv = self.qkv(self.norm(seq))
        # legacy order: the 3c channels are [q_1 k_1 v_1 | q_2 k_2 v_2 | ...]
        qkv = qkv.reshape(b * self.num_heads, 3 * c // self.num_heads, hgt * wid)
        # contiguous: PyTorch's fused CPU kernel needs it (else the unfused
        # path, 2-3x slower at 32² and 64² tokens)
        q, k, v = (part.transpose(1, 2).contiguous() for part in qkv.chunk(3, dim=1))
        attn = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        out = attn.transpose(1, 2).reshape(b, c, hgt * wid)
        return (seq + self.proj_out(out)).reshape(b, c, hgt, wid)


@MODELS.register_module()
class ADMUNet(nn.Module):
    """An ADM U-Net: ``forward(x, timesteps, *context) -> output``.

    Args:
        in_channels: channels of ``concat(x, *context)``.
        out_channels: output channels.
        model_channels: width at full resolution; level ``i`` has
            ``channel_mult[i] * model_channels`` channels.
        channel_mult: one multiplier per resolution level (each level after
            the first halves the resolution).
        num_res_blocks: ResBlocks per level on the way down (one more on the
            way up).
        attention_downsample: downsample factors (1, 2, 4, ...) at which every
            ResBlock is followed by an attention block; the middle block
            (ResBlock-attention-ResBlock) always has attention.
        num_heads: attention heads.
        scale_shift: FiLM time conditioning (True) or additive (False).
        dropout: dropout inside ResBlocks.
        norm_groups: GroupNorm groups (32 in ADM; smaller for tiny variants).
        use_checkpoint: gradient checkpointing of ResBlocks and attention
            blocks while training (saves memory, costs time).

    ``timesteps`` is a 1-D tensor (one per sample, raw values such as
    0..999). ``context`` tensors are resized bilinearly to the size of ``x``
    if needed and concatenated after ``x`` along channels. Height and width
    must be divisible by ``2 ** (len(channel_mult) - 1)``.
    """

    def __init__(self, in_channels: int, out_channels: int, model_channels: int,
                 channel_mult: Sequence[int] = (1, 2, 4, 8), num_res_blocks: int = 2,
                 attention_downsample: Sequence[int] = (), num_heads: int = 1,
                 scale_shift: bool = True, dropout: float = 0.0, norm_groups: int = 32,
                 use_checkpoint: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.model_channels = model_channels
        self.channel_mult = tuple(channel_mult)
        attention_downsample = set(attention_downsample)
        emb_dim = 4 * model_channels
        self.time_embed = nn.Sequential(
            nn.Linear(model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

        def res(ch_in, ch_out):
            return ResBlock(ch_in, emb_dim, ch_out, dropout, scale_shift, norm_groups,
                            use_checkpoint)

        def attn(ch):
            return AttentionBlock(ch, num_heads, norm_groups, use_checkpoint)

        ch = model_channels * self.channel_mult[0]
        self.input_blocks = nn.ModuleList(
            [TimestepSequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
        skip_channels = [ch]
        ds = 1
        for level, mult in enumerate(self.channel_mult):
            for _ in range(num_res_blocks):
                layers = [res(ch, mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_downsample:
                    layers.append(attn(ch))
                self.input_blocks.append(TimestepSequential(*layers))
                skip_channels.append(ch)
            if level != len(self.channel_mult) - 1:
                self.input_blocks.append(TimestepSequential(Downsample(ch)))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = TimestepSequential(res(ch, ch), attn(ch), res(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(self.channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [res(ch + skip_channels.pop(), mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_downsample:
                    layers.append(attn(ch))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepSequential(*layers))

        self.out = nn.Sequential(
            nn.GroupNorm(norm_groups, ch), nn.SiLU(),
            _zeroed(nn.Conv2d(ch, out_channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor,
                *context: torch.Tensor) -> torch.Tensor:
        factor = 2 ** (len(self.channel_mult) - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f'{type(self).__name__}: height and width must be divisible by '
                             f'{factor}, got {tuple(x.shape[-2:])}')
        parts = [x]
        for c in context:
            if c.shape[-2:] != x.shape[-2:]:
                c = F.interpolate(c, size=x.shape[-2:], mode='bilinear', align_corners=False)
            parts.append(c.to(x.dtype))
        h = torch.cat(parts, dim=1) if context else x
        if h.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects {self.in_channels} input channels '
                             f'(x and context together), got {h.shape[1]}')
        if timesteps.dim() == 0:
            timesteps = timesteps.expand(x.shape[0])
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels).to(h.dtype))
        skips = []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)


@MODELS.register_module()
class DECNP(ADMUNet):
    """DE's conditional noise predictor: ``forward(x_t, t, cloudy) -> eps`` (DE Eq. 8).

    ``num_bands`` input bands give ``2 * num_bands`` input channels
    (``x_t`` and the cloudy image) and ``num_bands`` outputs. Keyword
    overrides (``model_channels``, ``channel_mult``, ``norm_groups``, ...) make
    tiny variants for tests and demos.
    """

    def __init__(self, num_bands: int = 4, out_bands: Optional[int] = None, **overrides):
        out_bands = num_bands if out_bands is None else out_bands
        cfg = dict(in_channels=num_bands + out_bands, out_channels=out_bands,
                   model_channels=96, channel_mult=(1, 1, 2, 2, 3), num_res_blocks=2,
                   attention_downsample=(4, 8), num_heads=4, scale_shift=True, dropout=0.0)
        cfg.update(overrides)
        super().__init__(**cfg)


@MODELS.register_module()
class DEWeightNet(ADMUNet):
    """DE's weight-allocation network: ``forward(x_t, t, cloudy, x0_ref) -> W`` (DE Eq. 12).

    Input ``concat(x_t, cloudy, x_{0,E})`` (``2 * out_bands + num_bands``
    channels), output W with ``out_bands`` channels, linear and zero at
    initialisation (the last convolution starts at zero).
    """

    def __init__(self, num_bands: int = 4, out_bands: Optional[int] = None, **overrides):
        out_bands = num_bands if out_bands is None else out_bands
        cfg = dict(in_channels=num_bands + 2 * out_bands, out_channels=out_bands,
                   model_channels=64, channel_mult=(1, 1, 2), num_res_blocks=2,
                   attention_downsample=(4, 8), num_heads=1, scale_shift=False, dropout=0.0)
        cfg.update(overrides)
        super().__init__(**cfg)
