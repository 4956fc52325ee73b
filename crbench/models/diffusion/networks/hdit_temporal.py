"""Multi-temporal HDiT of EMRDM (``ImageTemporalTransformerDenoiserModel``).

docs/models.md §3.4 (Sen2_MTC_New). The HDiT encoder (patching, down stacks,
merges, middle stack) runs on every frame with shared weights, frames folded
into the batch. At the bottleneck a lightweight temporal attention encoder
(L-TAE style, "TFSA") collapses the time axis: per pixel and per head a
learned query attends over the frames' keys, the values are the frames'
normalised features split into one channel group per head. The same attention
maps, resized to each skip's resolution, collapse the per-frame skips
(channel group g weighted by head g). The up path then runs single-stream as
in :class:`~.hdit.HDiT`.

Frames that equal ``pad_value`` everywhere are padding: they skip the encoder,
their features are ``pad_value`` and they get (numerically) zero temporal
attention weight.

Deviations from the official code, both only matter for cases it does not
run: the per-frame noise conditioning is repeated per sample
(``repeat_interleave``; the official ``repeat`` tiles it and pairs frames
with the wrong sample's noise level when B > 1), and padding frames are
dropped with their conditioning (the official code fails then).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crbench.registry import MODELS
from .hdit import AdaRMSNorm, FeedForwardBlock, _HDiTBase, _zero_, downscale_pos, make_axial_pos


class TemporalAttention(nn.Module):
    """Multi-head temporal attention with learned queries (L-TAE style).

    For each pixel: AdaRMSNorm the ``T`` frame features, keys =
    ``Linear(d_model -> heads * d_k)`` (with bias), one learned query per head
    (``N(0, 2 / d_k)``), ``softmax_T(q.k / sqrt(d_k))``; head ``g`` averages
    channel group ``g`` of the normalised features; heads are concatenated,
    dropout, zero-init output projection (no residual: the time axis is gone).
    """

    def __init__(self, d_model: int, n_heads: int, d_k: int, cond_features: int,
                 dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f'd_model {d_model} must be a multiple of n_heads {n_heads}')
        self.n_heads, self.d_k = n_heads, d_k
        self.norm = AdaRMSNorm(d_model, cond_features)
        self.fc1_k = nn.Linear(d_model, n_heads * d_k)
        nn.init.normal_(self.fc1_k.weight, std=(2.0 / d_k) ** 0.5)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = _zero_(nn.Linear(d_model, d_model, bias=False))
        self.Q = nn.Parameter(torch.randn(n_heads, d_k) * (2.0 / d_k) ** 0.5)

    def forward(self, x: Tensor, cond: Tensor, pad_mask: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        """``x [B, h, w, T, C]``, ``pad_mask [B, T]`` (True = padding).

        Returns ``[B, h, w, C]`` and the weights ``[B, h, w, heads, T]``.
        """
        b, h, w, t, c = x.shape
        v = self.norm(x, cond)
        keys = self.fc1_k(v).view(b, h, w, t, self.n_heads, self.d_k)
        logits = torch.einsum('bhwtnd,nd->bhwnt', keys, self.Q.to(keys.dtype)) / self.d_k ** 0.5
        if pad_mask is not None:
            logits = logits.masked_fill(pad_mask[:, None, None, None, :], -1e5)
        attn = logits.softmax(dim=-1)
        groups = v.view(b, h, w, t, self.n_heads, c // self.n_heads)
        out = torch.einsum('bhwnt,bhwtng->bhwng', attn, groups).reshape(b, h, w, c)
        return self.out_proj(self.dropout(out)), attn


class TemporalEncoder(nn.Module):
    """TFSA block: :class:`TemporalAttention` then an AdaRMSNorm GEGLU
    feed-forward block with residual (docs/models.md §3.4)."""

    def __init__(self, d_model: int, d_ff: int, cond_features: int, n_heads: int = 16,
                 d_k: int = 48, dropout: float = 0.0):
        super().__init__()
        self.attention_heads = TemporalAttention(d_model, n_heads, d_k, cond_features, dropout)
        self.ff = FeedForwardBlock(d_model, d_ff, cond_features, dropout)

    def forward(self, x: Tensor, cond: Tensor, pad_mask: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        """``x [B, T, h, w, C]`` -> ``[B, h, w, C]`` and attention
        ``[heads, B, T, h, w]``."""
        x, attn = self.attention_heads(x.movedim(1, 3), cond, pad_mask)
        return self.ff(x, cond), attn.permute(3, 0, 4, 1, 2)


def aggregate_skip(skip: Tensor, attn: Tensor) -> Tensor:
    """Collapse per-frame skip tokens ``[B, T, H, W, C]`` with the bottleneck
    attention ``[heads, B, T, h, w]``: maps are resized to ``H x W``
    (bilinear, align_corners False, or average pooling when smaller), channel
    group ``g`` (of ``heads`` contiguous groups) is weighted by head ``g`` and
    summed over ``T``. Returns ``[B, H, W, C]``."""
    n_heads, b, t, h, w = attn.shape
    height, width = skip.shape[2], skip.shape[3]
    maps = attn.reshape(n_heads * b, t, h, w)
    if (height, width) != (h, w):
        if width > w:
            maps = F.interpolate(maps, size=(height, width), mode='bilinear',
                                 align_corners=False)
        else:
            maps = F.avg_pool2d(maps, kernel_size=w // width)
    maps = maps.view(n_heads, b, t, height, width).permute(1, 2, 3, 4, 0)  # B T H W heads
    groups = skip.reshape(*skip.shape[:-1], n_heads, skip.shape[-1] // n_heads)
    out = (groups * maps[..., None].to(groups.dtype)).sum(dim=1)
    return out.flatten(-2)


@MODELS.register_module()
class TemporalHDiT(_HDiTBase):
    """Multi-temporal HDiT denoiser (EMRDM "THDiT", Sen2_MTC_New).

    ``forward(x [B, T, in_channels, H, W], c_noise [B])`` returns
    ``(out [B, out_channels, H, W], attn [temporal_n_heads, B, T, h, w])`` with
    ``h x w`` the bottleneck token grid. Each frame of ``x`` is
    ``concat(c_in * x_sigma_t, cond_t)``; any ``T >= 1`` works.

    Defaults are the ``sen2_mtc_new.yaml`` network (7 -> 3 per frame,
    148,878,322 parameters). Level arguments as in :class:`~.hdit.HDiT`;
    ``temporal_n_heads``/``temporal_d_k``/``temporal_d_ff``/``temporal_dropout``
    configure the TFSA block (its width is ``widths[-1]``; every width must be
    a multiple of ``temporal_n_heads``). ``pad_value=None`` disables padding
    detection.
    """

    def __init__(self,
                 in_channels: int = 7,
                 out_channels: int = 3,
                 patch_size: Union[int, Sequence[int]] = 4,
                 widths: Sequence[int] = (256, 512, 768),
                 depths: Sequence[int] = (2, 2, 16),
                 d_ffs: Sequence[int] = (512, 1024, 1536),
                 self_attns: Sequence[dict] = (
                     dict(type='neighborhood', d_head=64, kernel_size=7),
                     dict(type='neighborhood', d_head=64, kernel_size=7),
                     dict(type='global', d_head=64)),
                 dropout_rate: Sequence[float] = (0.0, 0.0, 0.0),
                 mapping_depth: int = 2,
                 mapping_width: int = 768,
                 mapping_d_ff: int = 1536,
                 mapping_dropout_rate: float = 0.1,
                 temporal_n_heads: int = 16,
                 temporal_d_k: int = 48,
                 temporal_d_ff: int = 1536,
                 temporal_dropout: float = 0.0,
                 pad_value: Optional[float] = 0.0,
                 grad_checkpointing: bool = False):
        super().__init__(in_channels, out_channels, patch_size, widths, depths, d_ffs,
                         self_attns, dropout_rate, mapping_depth, mapping_width,
                         mapping_d_ff, mapping_dropout_rate, grad_checkpointing)
        for width in widths:
            if width % temporal_n_heads:
                raise ValueError(f'width {width} is not a multiple of '
                                 f'temporal_n_heads {temporal_n_heads}')
        self.pad_value = pad_value
        self.temporal_encoder = TemporalEncoder(widths[-1], temporal_d_ff, mapping_width,
                                                temporal_n_heads, temporal_d_k,
                                                temporal_dropout)

    def padding_mask(self, x: Tensor) -> Optional[Tensor]:
        """``[B, T]``, True where a whole frame equals ``pad_value``."""
        if self.pad_value is None:
            return None
        return (x == self.pad_value).flatten(2).all(dim=-1)

    def forward(self, x: Tensor, c_noise: Tensor) -> Tuple[Tensor, Tensor]:
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(f'expected [B, T, {self.in_channels}, H, W], got {tuple(x.shape)}')
        b, t = x.shape[:2]
        self._check_size(x.shape[-2], x.shape[-1])
        cond = self.noise_cond(c_noise, b)

        pad_mask = self.padding_mask(x)
        # fold the frames into the batch; padding frames skip the encoder
        valid = None if pad_mask is None or not pad_mask.any() else ~pad_mask.reshape(-1)
        frames = x.flatten(0, 1).movedim(1, -1)
        frame_cond = cond.repeat_interleave(t, dim=0)
        if valid is not None:
            frames, frame_cond = frames[valid], frame_cond[valid]

        def unfold(tokens: Tensor) -> Tensor:
            """Valid-frame tokens -> ``[B, T, h, w, C]`` (padding = pad_value)."""
            if valid is None:
                return tokens.view(b, t, *tokens.shape[1:])
            full = tokens.new_full((b * t, *tokens.shape[1:]), float(self.pad_value))
            full = full.index_put((valid,), tokens)
            return full.view(b, t, *tokens.shape[1:])

        h = self.patch_in(frames)
        pos = make_axial_pos(h.shape[1], h.shape[2], device=h.device, dtype=h.dtype)

        # weight-shared per-frame encoder
        skips: List[Tuple[Tensor, Tensor]] = []
        for down_level, merge in zip(self.down_levels, self.merges):
            h = down_level(h, pos, frame_cond)
            skips.append((unfold(h), pos))
            h = merge(h)
            pos = downscale_pos(pos)
        h = self.mid_level(h, pos, frame_cond)

        # temporal fusion at the bottleneck, then single-stream decoder
        h, attn = self.temporal_encoder(unfold(h), cond, pad_mask)
        for up_level, split, (skip, pos) in reversed(
                list(zip(self.up_levels, self.splits, skips))):
            h = up_level(split(h, aggregate_skip(skip, attn)), pos, cond)

        return self.head(h), attn
