"""Hourglass Diffusion Transformer (HDiT), the denoiser F of EMRDM.

Architecture of Crowson et al., "Scalable High-Resolution Pixel-Space Image
Synthesis with Hourglass Diffusion Transformers" (ICML 2024), as configured by
EMRDM (docs/models.md §3.3). All facts below are from docs/models.md:

* tokens are channels-last ``[B, h, w, C]``; a patch of ``p x p`` pixels is
  one token (linear, no bias);
* levels ``0..L-2`` own a down stack and an up stack of ``depth`` layers, the
  last level is the middle stack; TokenMerge (2x2 -> linear) goes down,
  TokenSplit (linear -> 2x2) goes up and is lerped with the skip (learnable
  factor, init 0.5);
* a layer is attention + GEGLU feed-forward, both pre-norm residual blocks
  with AdaRMSNorm (scale ``1 + Linear(cond)``, zero-init); attention is
  cosine-similarity attention (learnable per-head scale, init 10) with 2-D
  axial RoPE on half of each head's dims, neighbourhood attention at the
  high-resolution levels and global attention below; output projections are
  zero-initialised and no linear has a bias;
* the noise level ``c_noise`` goes through fixed random Fourier features, a
  linear layer and a small mapping network whose output conditions every
  AdaRMSNorm.

Module and parameter names follow the official EMRDM network, so an official
state dict loads with ``load_state_dict`` (it also holds the Fourier buffer
``time_emb.weight``, which is random and must come from the checkpoint).
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from crbench.registry import MODELS
from .neighborhood_attention import neighborhood_attention_2d

# --------------------------------------------------------------------------
# small building blocks


def _zero_(linear: nn.Linear) -> nn.Linear:
    """Zero-initialise a linear layer (HDiT output projections)."""
    nn.init.zeros_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return linear


def rms_norm(x: Tensor, scale: Tensor, eps: float) -> Tensor:
    """``x / rms(x) * scale`` over the last dim, computed in >= float32."""
    dtype = torch.promote_types(torch.promote_types(x.dtype, scale.dtype), torch.float32)
    inv_rms = torch.rsqrt(x.to(dtype).pow(2).mean(dim=-1, keepdim=True) + eps)
    return x * (scale.to(dtype) * inv_rms).to(x.dtype)


class RMSNorm(nn.Module):
    """RMSNorm with a learnable per-channel scale (init 1), eps 1e-6."""

    def __init__(self, features: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(features))

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.scale, self.eps)


class AdaRMSNorm(nn.Module):
    """RMSNorm whose scale is ``1 + Linear(cond)`` (zero-init, no bias).

    ``cond`` is ``[B, cond_features]``; it is broadcast over every token axis
    of ``x`` (``[B, ..., features]``).
    """

    def __init__(self, features: int, cond_features: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.linear = _zero_(nn.Linear(cond_features, features, bias=False))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale = self.linear(cond) + 1
        scale = scale.view(scale.shape[0], *([1] * (x.dim() - 2)), scale.shape[-1])
        return rms_norm(x, scale, self.eps)


class LinearGEGLU(nn.Linear):
    """``Linear(d_in -> 2 d_out)``, then ``value * gelu(gate)`` (value first)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__(in_features, 2 * out_features, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = super().forward(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FourierFeatures(nn.Module):
    """Fixed random Fourier features: ``[cos(2 pi x W^T), sin(2 pi x W^T)]``
    with ``W ~ N(0, std^2)`` a buffer of shape ``[out_features / 2, in_features]``."""

    def __init__(self, in_features: int, out_features: int, std: float = 1.0):
        super().__init__()
        if out_features % 2:
            raise ValueError('out_features must be even')
        self.register_buffer('weight', torch.randn(out_features // 2, in_features) * std)

    def forward(self, x: Tensor) -> Tensor:
        angle = 2 * math.pi * x @ self.weight.T
        return torch.cat([angle.cos(), angle.sin()], dim=-1)


# --------------------------------------------------------------------------
# positions and rotary embeddings


def make_axial_pos(height: int, width: int, device=None, dtype=None) -> Tensor:
    """Token positions ``[h, w, 2]`` (row, col): cell centres of a grid over
    ``[-1, 1]`` along the longer side (the shorter side is shrunk to keep the
    aspect ratio)."""
    ratio = width / height
    y_max, x_max = (1.0 / ratio, 1.0) if ratio > 1 else (1.0, ratio)

    def centres(extent, n):
        edges = torch.linspace(-extent, extent, n + 1, device=device, dtype=dtype)
        return (edges[:-1] + edges[1:]) / 2

    grid = torch.meshgrid(centres(y_max, height), centres(x_max, width), indexing='ij')
    return torch.stack(grid, dim=-1)


def downscale_pos(pos: Tensor) -> Tensor:
    """Average positions over 2x2 blocks (follows TokenMerge)."""
    h, w, e = pos.shape
    return pos.view(h // 2, 2, w // 2, 2, e).mean(dim=(1, 3))


class AxialRoPE(nn.Module):
    """2-D axial rotary position embedding.

    ``dim`` is the number of rotated channels per head (HDiT: ``d_head / 2``);
    half of them encode the row and half the column position, each with
    ``dim / 4`` frequencies. All ``heads * dim / 4`` frequencies are
    log-spaced over ``[pi, 10 pi)`` and dealt out to the heads round-robin,
    so each head covers the whole range. ``forward(pos [..., 2])`` returns
    the angles ``[..., heads, dim / 2]`` (row angles, then column angles).
    """

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        n_freqs = dim // 4
        log_freqs = torch.linspace(math.log(math.pi), math.log(10 * math.pi),
                                   n_heads * n_freqs + 1)[:-1]
        self.register_buffer('freqs', log_freqs.exp().view(n_freqs, n_heads).T.contiguous())

    def forward(self, pos: Tensor) -> Tensor:
        freqs = self.freqs.to(pos.dtype)
        theta_h = pos[..., None, 0:1] * freqs
        theta_w = pos[..., None, 1:2] * freqs
        return torch.cat([theta_h, theta_w], dim=-1)


def apply_rotary_emb(x: Tensor, theta: Tensor) -> Tensor:
    """Rotate channel pairs ``(x[i], x[i + m])`` for ``i < m`` by ``theta[i]``,
    ``m = theta.shape[-1]``; channels ``>= 2m`` pass through."""
    m = theta.shape[-1]
    dtype = torch.promote_types(torch.promote_types(x.dtype, theta.dtype), torch.float32)
    x1, x2, rest = x[..., :m].to(dtype), x[..., m:2 * m].to(dtype), x[..., 2 * m:]
    cos, sin = theta.to(dtype).cos(), theta.to(dtype).sin()
    y1 = x1 * cos - x2 * sin
    y2 = x2 * cos + x1 * sin
    return torch.cat([y1.to(x.dtype), y2.to(x.dtype), rest], dim=-1)


def cosine_sim_qk(q: Tensor, k: Tensor, scale: Tensor, eps: float = 1e-6
                  ) -> Tuple[Tensor, Tensor]:
    """L2-normalise q and k over the last dim and multiply both by
    ``sqrt(scale)`` (per head, broadcast against ``q[..., heads, d]``-like
    shapes by the caller), so ``q.k = scale * cos(q, k)``."""
    dtype = torch.promote_types(torch.promote_types(q.dtype, scale.dtype), torch.float32)
    sqrt_scale = scale.to(dtype).sqrt()
    q_fac = sqrt_scale * torch.rsqrt(q.to(dtype).pow(2).sum(-1, keepdim=True) + eps)
    k_fac = sqrt_scale * torch.rsqrt(k.to(dtype).pow(2).sum(-1, keepdim=True) + eps)
    return q * q_fac.to(q.dtype), k * k_fac.to(k.dtype)


# --------------------------------------------------------------------------
# transformer blocks


class _SelfAttentionBase(nn.Module):
    """Shared parts of HDiT attention: AdaRMSNorm, qkv (no bias), per-head
    scale (init 10), axial RoPE on ``d_head / 2`` dims, dropout, zero-init
    output projection. Subclasses implement :meth:`attend`."""

    def __init__(self, d_model: int, d_head: int, cond_features: int, dropout: float = 0.0):
        super().__init__()
        if d_model % d_head:
            raise ValueError(f'width {d_model} is not a multiple of d_head {d_head}')
        self.d_head = d_head
        self.n_heads = d_model // d_head
        self.norm = AdaRMSNorm(d_model, cond_features)
        self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=False)
        self.scale = nn.Parameter(torch.full([self.n_heads], 10.0))
        self.pos_emb = AxialRoPE(d_head // 2, self.n_heads)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = _zero_(nn.Linear(d_model, d_model, bias=False))

    def qkv(self, x: Tensor, pos: Tensor, cond: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Normalised, rotated ``q, k`` and ``v``, each ``[B, h, w, heads, d_head]``.

        The channel layout of the qkv projection is (q|k|v, head, d_head).
        """
        qkv = self.qkv_proj(self.norm(x, cond))
        qkv = qkv.view(*qkv.shape[:-1], 3, self.n_heads, self.d_head)
        q, k, v = qkv.unbind(-3)
        q, k = cosine_sim_qk(q, k, self.scale[:, None])
        theta = self.pos_emb(pos.to(q.dtype))  # [h, w, heads, d_head / 4]
        return apply_rotary_emb(q, theta), apply_rotary_emb(k, theta), v

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, pos: Tensor, cond: Tensor) -> Tensor:
        q, k, v = self.qkv(x, pos, cond)
        out = self.attend(q, k, v).flatten(-2)  # heads concatenated
        return x + self.out_proj(self.dropout(out))


class SelfAttentionBlock(_SelfAttentionBase):
    """Global cosine-similarity attention over all ``h * w`` tokens."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        b, h, w, nh, d = q.shape
        q, k, v = (t.reshape(b, h * w, nh, d).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        return out.transpose(1, 2).reshape(b, h, w, nh, d)


class NeighborhoodSelfAttentionBlock(_SelfAttentionBase):
    """Cosine-similarity neighbourhood attention (``kernel_size`` window)."""

    def __init__(self, d_model: int, d_head: int, cond_features: int,
                 kernel_size: int, dropout: float = 0.0):
        super().__init__(d_model, d_head, cond_features, dropout)
        self.kernel_size = kernel_size

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return neighborhood_attention_2d(q, k, v, self.kernel_size, scale=1.0)


class FeedForwardBlock(nn.Module):
    """Pre-norm GEGLU feed-forward with AdaRMSNorm and a zero-init down
    projection, residual."""

    def __init__(self, d_model: int, d_ff: int, cond_features: int, dropout: float = 0.0):
        super().__init__()
        self.norm = AdaRMSNorm(d_model, cond_features)
        self.up_proj = LinearGEGLU(d_model, d_ff, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.down_proj = _zero_(nn.Linear(d_ff, d_model, bias=False))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        return x + self.down_proj(self.dropout(self.up_proj(self.norm(x, cond))))


class TransformerLayer(nn.Module):
    """One HDiT layer: (optional) self-attention block + feed-forward block."""

    def __init__(self, self_attn: Optional[nn.Module], ff: nn.Module,
                 grad_checkpointing: bool = False):
        super().__init__()
        if self_attn is not None:
            self.self_attn = self_attn
        self.ff = ff
        self.grad_checkpointing = grad_checkpointing

    def _run(self, fn, *args):
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def forward(self, x: Tensor, pos: Tensor, cond: Tensor) -> Tensor:
        if hasattr(self, 'self_attn'):
            x = self._run(self.self_attn, x, pos, cond)
        return self._run(self.ff, x, cond)


class Level(nn.ModuleList):
    """A stack of :class:`TransformerLayer` run in sequence."""

    def forward(self, x: Tensor, pos: Tensor, cond: Tensor) -> Tensor:
        for layer in self:
            x = layer(x, pos, cond)
        return x


def build_layer(width: int, d_ff: int, self_attn: dict, cond_features: int,
                dropout: float, grad_checkpointing: bool = False) -> TransformerLayer:
    """Build one layer from a self-attention spec:
    ``dict(type='neighborhood', d_head=64, kernel_size=7)``,
    ``dict(type='global', d_head=64)`` or ``dict(type='none')``."""
    kind = self_attn.get('type')
    if kind == 'global':
        attn = SelfAttentionBlock(width, self_attn.get('d_head', 64), cond_features, dropout)
    elif kind == 'neighborhood':
        attn = NeighborhoodSelfAttentionBlock(width, self_attn.get('d_head', 64), cond_features,
                                              self_attn.get('kernel_size', 7), dropout)
    elif kind == 'none':
        attn = None
    else:
        raise ValueError(f'unsupported self-attention type {kind!r}')
    ff = FeedForwardBlock(width, d_ff, cond_features, dropout)
    return TransformerLayer(attn, ff, grad_checkpointing)


# --------------------------------------------------------------------------
# noise-level mapping network


class MappingFeedForwardBlock(nn.Module):
    """RMSNorm -> GEGLU -> dropout -> zero-init projection, residual."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.norm = RMSNorm(d_model)
        self.up_proj = LinearGEGLU(d_model, d_ff, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.down_proj = _zero_(nn.Linear(d_ff, d_model, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.down_proj(self.dropout(self.up_proj(self.norm(x))))


class MappingNetwork(nn.Module):
    """RMSNorm, ``n_layers`` residual GEGLU blocks, RMSNorm."""

    def __init__(self, n_layers: int, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.in_norm = RMSNorm(d_model)
        self.blocks = nn.ModuleList(
            [MappingFeedForwardBlock(d_model, d_ff, dropout) for _ in range(n_layers)])
        self.out_norm = RMSNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = self.in_norm(x)
        for block in self.blocks:
            x = block(x)
        return self.out_norm(x)


# --------------------------------------------------------------------------
# token merging / splitting


class TokenMerge(nn.Module):
    """Merge ``ph x pw`` tokens into one: ``[.., h, w, C] -> [.., h/ph, w/pw, C']``
    (channel order: row-in-patch, col-in-patch, C), linear without bias."""

    def __init__(self, in_features: int, out_features: int,
                 patch_size: Tuple[int, int] = (2, 2)):
        super().__init__()
        self.ph, self.pw = patch_size
        self.proj = nn.Linear(in_features * self.ph * self.pw, out_features, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        *lead, h, w, c = x.shape
        x = x.reshape(*lead, h // self.ph, self.ph, w // self.pw, self.pw, c)
        x = x.movedim(-4, -3).reshape(*lead, h // self.ph, w // self.pw, self.ph * self.pw * c)
        return self.proj(x)


class TokenSplitWithoutSkip(nn.Module):
    """Inverse of :class:`TokenMerge`: linear (no bias) to ``ph * pw * C'``,
    then unshuffle to ``[.., h*ph, w*pw, C']``."""

    def __init__(self, in_features: int, out_features: int,
                 patch_size: Tuple[int, int] = (2, 2)):
        super().__init__()
        self.ph, self.pw = patch_size
        self.proj = nn.Linear(in_features, out_features * self.ph * self.pw, bias=False)

    def unpatch(self, x: Tensor) -> Tensor:
        *lead, h, w, _ = x.shape
        x = x.reshape(*lead, h, w, self.ph, self.pw, -1).movedim(-3, -4)
        return x.reshape(*lead, h * self.ph, w * self.pw, x.shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.unpatch(self.proj(x))


class TokenSplit(TokenSplitWithoutSkip):
    """Token split followed by ``lerp(skip, x, fac)`` with a learnable
    scalar ``fac`` (init 0.5, i.e. the mean of skip and upsampled tokens)."""

    def __init__(self, in_features: int, out_features: int,
                 patch_size: Tuple[int, int] = (2, 2)):
        super().__init__(in_features, out_features, patch_size)
        self.fac = nn.Parameter(torch.full([1], 0.5))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = super().forward(x)
        return torch.lerp(skip.to(x.dtype), x, self.fac.to(x.dtype))


# --------------------------------------------------------------------------
# the denoiser


def _pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _check_level_args(widths, depths, d_ffs, self_attns, dropout_rate) -> None:
    n = len(widths)
    if not (len(depths) == len(d_ffs) == len(self_attns) == len(dropout_rate) == n):
        raise ValueError('widths, depths, d_ffs, self_attns and dropout_rate '
                         'must have the same length')
    if n < 1:
        raise ValueError('at least one level is needed')


class _HDiTBase(nn.Module):
    """Parts shared by :class:`HDiT` and the temporal variant: patching,
    noise conditioning, level stacks, merges/splits and the output head."""

    def __init__(self, in_channels: int, out_channels: int,
                 patch_size: Union[int, Sequence[int]],
                 widths: Sequence[int], depths: Sequence[int], d_ffs: Sequence[int],
                 self_attns: Sequence[dict], dropout_rate: Sequence[float],
                 mapping_depth: int, mapping_width: int, mapping_d_ff: int,
                 mapping_dropout_rate: float, grad_checkpointing: bool = False):
        super().__init__()
        _check_level_args(widths, depths, d_ffs, self_attns, dropout_rate)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.patch_size = _pair(patch_size)
        self.num_levels = len(widths)

        self.patch_in = TokenMerge(in_channels, widths[0], self.patch_size)

        # noise conditioning: c_noise -> Fourier -> linear -> mapping network
        self.time_emb = FourierFeatures(1, mapping_width)
        self.time_in_proj = nn.Linear(mapping_width, mapping_width, bias=False)
        self.mapping = MappingNetwork(mapping_depth, mapping_width, mapping_d_ff,
                                      mapping_dropout_rate)

        def stack(i: int) -> Level:
            return Level([build_layer(widths[i], d_ffs[i], dict(self_attns[i]), mapping_width,
                                      dropout_rate[i], grad_checkpointing)
                          for _ in range(depths[i])])

        # levels 0..L-2: a down and an up stack (separate weights); last: middle
        self.down_levels = nn.ModuleList([stack(i) for i in range(self.num_levels - 1)])
        self.up_levels = nn.ModuleList([stack(i) for i in range(self.num_levels - 1)])
        self.mid_level = stack(self.num_levels - 1)

        self.merges = nn.ModuleList(
            [TokenMerge(w1, w2) for w1, w2 in zip(widths[:-1], widths[1:])])
        self.splits = nn.ModuleList(
            [TokenSplit(w2, w1) for w1, w2 in zip(widths[:-1], widths[1:])])

        self.out_norm = RMSNorm(widths[0])
        # output head: RMSNorm -> zero-init linear -> unpatch (no tanh)
        self.patch_out = TokenSplitWithoutSkip(widths[0], out_channels, self.patch_size)
        _zero_(self.patch_out.proj)

    # helpers -------------------------------------------------------------
    @property
    def size_multiple(self) -> Tuple[int, int]:
        """Input H and W must be multiples of these."""
        f = 2 ** (self.num_levels - 1)
        return self.patch_size[0] * f, self.patch_size[1] * f

    def _check_size(self, height: int, width: int) -> None:
        mh, mw = self.size_multiple
        if height % mh or width % mw:
            raise ValueError(f'input size {height}x{width} must be a multiple of {mh}x{mw} '
                             f'(patch {self.patch_size} x 2^{self.num_levels - 1})')

    def noise_cond(self, c_noise: Tensor, batch: int) -> Tensor:
        """``c_noise`` ``[B]`` (or a scalar) -> mapping vector ``[B, mapping_width]``."""
        c_noise = torch.as_tensor(c_noise, device=self.time_emb.weight.device,
                                  dtype=self.time_emb.weight.dtype).reshape(-1)
        if c_noise.numel() == 1 and batch != 1:
            c_noise = c_noise.expand(batch)
        if c_noise.numel() != batch:
            raise ValueError(f'c_noise has {c_noise.numel()} values for a batch of {batch}')
        return self.mapping(self.time_in_proj(self.time_emb(c_noise[:, None])))

    def head(self, x: Tensor) -> Tensor:
        """Tokens ``[B, h, w, width0]`` -> image ``[B, out_channels, H, W]``."""
        return self.patch_out(self.out_norm(x)).movedim(-1, -3)


@MODELS.register_module()
class HDiT(_HDiTBase):
    """HDiT denoising network ``F`` of EMRDM (``ImageTransformerDenoiserModel``).

    ``forward(x [B, in_channels, H, W], c_noise [B]) -> [B, out_channels, H, W]``
    where ``x`` is already ``concat(c_in * x_sigma, cond)`` and ``c_noise`` is
    the EDM noise embedding (``0.25 ln sigma``). ``H`` and ``W`` must be
    multiples of ``patch_size * 2^(len(widths) - 1)``.

    Defaults are the CUHK-CR network (``cuhk.yaml``; 8 -> 4 channels,
    39,129,803 parameters); SEN12MS-CR uses ``in_channels=28, out_channels=13``
    (39,133,515).

    Args:
        in_channels, out_channels: channels of the network input / output.
        patch_size: pixels per token side (int or pair).
        widths, depths, d_ffs: per-level token width, number of layers per
            stack and feed-forward width.
        self_attns: per-level attention spec, ``dict(type='neighborhood',
            d_head=64, kernel_size=7)``, ``dict(type='global', d_head=64)`` or
            ``dict(type='none')``.
        dropout_rate: per-level dropout (attention output and feed-forward).
        mapping_depth, mapping_width, mapping_d_ff, mapping_dropout_rate:
            noise-level mapping network.
        grad_checkpointing: recompute every block in backward (saves memory).
    """

    def __init__(self,
                 in_channels: int = 8,
                 out_channels: int = 4,
                 patch_size: Union[int, Sequence[int]] = 1,
                 widths: Sequence[int] = (128, 256, 384, 768),
                 depths: Sequence[int] = (2, 2, 2, 2),
                 d_ffs: Sequence[int] = (256, 512, 768, 1536),
                 self_attns: Sequence[dict] = (
                     dict(type='neighborhood', d_head=64, kernel_size=7),
                     dict(type='neighborhood', d_head=64, kernel_size=7),
                     dict(type='global', d_head=64),
                     dict(type='global', d_head=64)),
                 dropout_rate: Sequence[float] = (0.0, 0.0, 0.0, 0.1),
                 mapping_depth: int = 2,
                 mapping_width: int = 768,
                 mapping_d_ff: int = 1536,
                 mapping_dropout_rate: float = 0.1,
                 grad_checkpointing: bool = False):
        super().__init__(in_channels, out_channels, patch_size, widths, depths, d_ffs,
                         self_attns, dropout_rate, mapping_depth, mapping_width,
                         mapping_d_ff, mapping_dropout_rate, grad_checkpointing)

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'expected [B, {self.in_channels}, H, W], got {tuple(x.shape)}')
        self._check_size(x.shape[-2], x.shape[-1])
        cond = self.noise_cond(c_noise, x.shape[0])

        x = self.patch_in(x.movedim(1, -1))
        pos = make_axial_pos(x.shape[1], x.shape[2], device=x.device, dtype=x.dtype)

        skips: List[Tuple[Tensor, Tensor]] = []
        for down_level, merge in zip(self.down_levels, self.merges):
            x = down_level(x, pos, cond)
            skips.append((x, pos))
            x = merge(x)
            pos = downscale_pos(pos)

        x = self.mid_level(x, pos, cond)

        for up_level, split, (skip, pos) in reversed(
                list(zip(self.up_levels, self.splits, skips))):
            x = up_level(split(x, skip), pos, cond)

        return self.head(x)
