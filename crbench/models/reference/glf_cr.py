"""GLF-CR: SAR-enhanced cloud removal with global-local fusion (Xu et al., ISPRS J. 2022).

A two-stream residual dense network (one stream for the cloudy Sentinel-2 image, one for
the Sentinel-1 SAR image) working at half resolution after a pixel unshuffle:

* **global fusion**: every dense layer runs (shifted-)window self-attention in
  both streams; the optical attention map is moved towards the SAR one by a gate computed
  from their difference, so SAR decides which windows' pixels the cloudy pixels attend to;
* **local fusion**: after each dense block, a kernel-prediction net reads both
  streams and predicts a 5×5 filter per pixel and channel, which denoises the SAR features
  (dynamic filtering against speckle); gated differences then move SAR information into the
  optical stream and the updated optical features back into the SAR stream.

The official code computes the per-pixel filtering with a compiled CUDA op; here it is
:func:`dynamic_filter` (pure PyTorch, CPU and GPU). The network input is one tensor, the
optical bands followed by the SAR bands (``SupervisedRestorer`` with
``input_keys=('cloudy', 'sar')``), both in [0, 1] as officially (``network_range=(0, 1)``);
the output is the cloudy image plus a predicted residual. Height and width must be
multiples of 2 × ``window_size`` (16 with the official settings). Shifted-window masks are
computed for the size of each input, so a network trained on 128×128 crops runs on
256×256 images.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def dynamic_filter(x: torch.Tensor, kernels: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Filter every pixel of every channel of ``x`` with its own kernel.

    ``kernels`` is B×(C·k·k)×H×W, channel ``c·k² + i·k + j`` holding tap (i, j) of
    channel c; ``x`` is padded by replicating its border, so the output is B×C×H×W.
    """
    b, c, h, w = x.shape
    k = kernel_size
    if kernels.shape != (b, c * k * k, h, w):
        raise ValueError(f'dynamic_filter: kernels of shape {tuple(kernels.shape)} do not fit '
                         f'features {tuple(x.shape)} and kernel size {k} (need {(b, c * k * k, h, w)})')
    pad = (k - 1) // 2
    patches = F.unfold(F.pad(x, (pad, pad, pad, pad), mode='replicate'), k)  # B×(C·k·k)×(H·W)
    out = (patches.view(b, c, k * k, h * w) * kernels.view(b, c, k * k, h * w)).sum(2)
    return out.view(b, c, h, w)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero a residual branch for whole samples with probability p."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


def to_windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """B×H×W×C → (B·nW)×(size²)×C, windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // size, size, w // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size * size, c)


def from_windows(windows: torch.Tensor, size: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`to_windows`."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // size) * (w // size))
    x = windows.view(b, h // size, w // size, size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def shifted_window_mask(h: int, w: int, size: int, shift: int, device=None) -> torch.Tensor:
    """nW×N×N additive mask (0 / -100) that keeps the regions a cyclic shift glued together
    from attending to each other (Swin Transformer's SW-MSA)."""
    labels = torch.zeros(h, w, device=device)
    bounds = ((0, -size), (-size, -shift), (-shift, None))
    region = 0
    for r0, r1 in bounds:
        for c0, c1 in bounds:
            labels[slice(r0, r1), slice(c0, c1)] = region
            region += 1
    win = to_windows(labels.view(1, h, w, 1), size).squeeze(-1)  # nW×N
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class Mlp(nn.Module):
    """Token-wise two-layer perceptron with GELU."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SARGuidedWindowAttention(nn.Module):
    """Window self-attention in both streams; the optical attention logits are gated
    towards the SAR ones: A_opt ← A_opt + σ(W (A_sar − A_opt)) ⊙ (A_sar − A_opt), with
    W a 1×1 mixing across heads. One relative-position bias table serves
    both streams."""

    def __init__(self, dim: int, window_size: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'attention width {dim} is not divisible by num_heads={num_heads}')
        self.num_heads, self.window_size = num_heads, window_size
        self.scale = (dim // num_heads) ** -0.5
        self.rel_bias = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.rel_bias, std=0.02)  # bounds ±2 (absolute), as officially
        ij = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size),
                                        indexing='ij')).flatten(1)          # 2×N
        rel = (ij[:, :, None] - ij[:, None, :]) + (window_size - 1)         # 2×N×N, ≥ 0
        self.register_buffer('rel_index', rel[0] * (2 * window_size - 1) + rel[1], persistent=False)
        self.opt_qkv = nn.Linear(dim, 3 * dim)
        self.sar_qkv = nn.Linear(dim, 3 * dim)
        self.gate = nn.Conv2d(num_heads, num_heads, 1)
        self.opt_proj = nn.Linear(dim, dim)
        self.sar_proj = nn.Linear(dim, dim)

    def _heads(self, qkv: nn.Linear, x: torch.Tensor):
        n_win, n, c = x.shape
        q, k, v = qkv(x).view(n_win, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        return q * self.scale, k, v

    def forward(self, opt: torch.Tensor, sar: torch.Tensor, mask: Optional[torch.Tensor]):
        n_win, n, c = opt.shape
        q, k, v = self._heads(self.opt_qkv, opt)
        q_s, k_s, v_s = self._heads(self.sar_qkv, sar)
        bias = self.rel_bias[self.rel_index.reshape(-1)].view(n, n, -1).permute(2, 0, 1)
        logits = q @ k.transpose(-2, -1) + bias
        logits_s = q_s @ k_s.transpose(-2, -1) + bias
        if mask is not None:
            n_mask = mask.shape[0]
            m = mask.view(1, n_mask, 1, n, n)
            logits = (logits.view(-1, n_mask, self.num_heads, n, n) + m).view(-1, self.num_heads, n, n)
            logits_s = (logits_s.view(-1, n_mask, self.num_heads, n, n) + m).view(-1, self.num_heads, n, n)
        diff = logits_s - logits
        logits = logits + diff * torch.sigmoid(self.gate(diff))
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(n_win, n, c)
        out_s = (logits_s.softmax(-1) @ v_s).transpose(1, 2).reshape(n_win, n, c)
        return self.opt_proj(out), self.sar_proj(out_s)


class DenseAttentionLayer(nn.Module):
    """One dense layer of both streams: 3×3 conv + ReLU to ``growth`` channels, a
    (shifted-)window attention block with an MLP (pre-norm on the MLP only, as officially),
    and the new features appended to the layer's input (dense connectivity)."""

    def __init__(self, in_channels: int, growth: int, window_size: int, shift: int,
                 num_heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.window_size, self.shift, self.drop_path = window_size, shift, drop_path
        self.opt_conv = nn.Conv2d(in_channels, growth, 3, padding=1)
        self.sar_conv = nn.Conv2d(in_channels, growth, 3, padding=1)
        self.attn = SARGuidedWindowAttention(growth, window_size, num_heads)
        self.opt_norm = nn.LayerNorm(growth)
        self.sar_norm = nn.LayerNorm(growth)
        hidden = int(growth * mlp_ratio)
        self.opt_mlp = Mlp(growth, hidden)
        self.sar_mlp = Mlp(growth, hidden)
        self._masks = {}

    def mask(self, h: int, w: int, device) -> Optional[torch.Tensor]:
        if self.shift == 0:
            return None
        key = (h, w, str(device))
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(h, w, self.window_size, self.shift, device)
        return self._masks[key]

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), dims=(1, 2))
        return to_windows(x, self.window_size)

    def _merge(self, windows: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = from_windows(windows, self.window_size, h, w)
        if self.shift:
            x = torch.roll(x, (self.shift, self.shift), dims=(1, 2))
        return x

    def forward(self, opt: torch.Tensor, sar: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = opt.shape
        tok = F.relu(self.opt_conv(opt)).permute(0, 2, 3, 1)        # B×H×W×G
        tok_s = F.relu(self.sar_conv(sar)).permute(0, 2, 3, 1)
        att, att_s = self.attn(self._windows(tok), self._windows(tok_s),
                               self.mask(h, w, opt.device))
        dp = lambda t: drop_path(t, self.drop_path, self.training)  # noqa: E731
        y = tok + dp(self._merge(att, h, w))
        y = y + dp(self.opt_mlp(self.opt_norm(y)))
        y_s = tok_s + dp(self._merge(att_s, h, w))
        y_s = y_s + dp(self.sar_mlp(self.sar_norm(y_s)))
        return (torch.cat([opt, y.permute(0, 3, 1, 2)], 1),
                torch.cat([sar, y_s.permute(0, 3, 1, 2)], 1))


class DenseAttentionBlock(nn.Module):
    """``num_layers`` dense layers (shift 0 and window/2 alternating), then a 3×3 local
    feature fusion back to ``channels`` per stream and a residual connection."""

    def __init__(self, channels: int, growth: int, num_layers: int, window_size: int,
                 num_heads: int, mlp_ratio: float, drop_paths: Sequence[float]):
        super().__init__()
        self.layers = nn.ModuleList(
            DenseAttentionLayer(channels + i * growth, growth, window_size,
                                0 if i % 2 == 0 else window_size // 2, num_heads, mlp_ratio,
                                drop_paths[i])
            for i in range(num_layers))
        self.opt_fuse = nn.Conv2d(channels + num_layers * growth, channels, 3, padding=1)
        self.sar_fuse = nn.Conv2d(channels + num_layers * growth, channels, 3, padding=1)

    def forward(self, opt, sar):
        d, d_s = opt, sar
        for layer in self.layers:
            d, d_s = layer(d, d_s)
        return self.opt_fuse(d) + opt, self.sar_fuse(d_s) + sar


def _conv_lrelu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.LeakyReLU(0.1))


class ResidualConvBlock(nn.Module):
    """conv 3×3 → LeakyReLU(0.1) → conv 3×3, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x):
        return self.body(x) + x


class LocalFusion(nn.Module):
    """Dynamic filtering of the SAR features and gated exchange between the streams
    (W_s, W_o: 1×1 convs):

        K     = KPN([F_opt, F_sar])                       per-pixel k×k kernels
        S     = K ⊛ F_sar                                  denoised SAR features
        F_opt' = F_opt + σ(W_s (S − F_opt)) ⊙ (S − F_opt)
        F_sar' = F_sar + σ(W_o (F_opt' − S)) ⊙ (F_opt' − S)
    """

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        # The kernel-prediction net works at half the width of the two concatenated streams.
        self.kernel_net = nn.Sequential(
            _conv_lrelu(2 * channels, channels, 3), ResidualConvBlock(channels),
            ResidualConvBlock(channels), _conv_lrelu(channels, channels * kernel_size ** 2, 1))
        self.sar_gate = nn.Conv2d(channels, channels, 1)
        self.opt_gate = nn.Conv2d(channels, channels, 1)

    def forward(self, opt, sar):
        kernels = self.kernel_net(torch.cat([opt, sar], 1))
        sar_f = dynamic_filter(sar, kernels, self.kernel_size)
        opt = opt + (sar_f - opt) * torch.sigmoid(self.sar_gate(sar_f - opt))
        sar = sar + (opt - sar_f) * torch.sigmoid(self.opt_gate(opt - sar_f))
        return opt, sar


@MODELS.register_module()
class GLFCR(nn.Module):
    """The GLF-CR network (official hyper-parameters as defaults: 14,827,373 parameters).

    Args:
        opt_channels: optical bands (13 for Sentinel-2); also the output bands.
        sar_channels: SAR bands (2: VV, VH).
        channels: features per stream (G0 = 96).
        growth: channels each dense layer adds (G = 48).
        num_blocks: dense blocks, each followed by a local fusion (D = 6).
        num_layers: dense attention layers per block (C = 5).
        num_heads, window_size, mlp_ratio: the window attention (8, 8, 2).
        drop_path_rate: stochastic depth, rising linearly from 0 over all layers (0.2).
        kernel_size: size of the predicted per-pixel filters (5).
        train_size: the training crop (128). As officially, a window larger than half of
            it (the attention runs at half resolution) shrinks to that and is not shifted.
    """

    def __init__(self, opt_channels: int = 13, sar_channels: int = 2, channels: int = 96,
                 growth: int = 48, num_blocks: int = 6, num_layers: int = 5, num_heads: int = 8,
                 window_size: int = 8, mlp_ratio: float = 2.0, drop_path_rate: float = 0.2,
                 kernel_size: int = 5, train_size: int = 128):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.opt_channels, self.sar_channels = opt_channels, sar_channels
        self.window_size = min(window_size, train_size // 2)
        shifted = window_size < train_size // 2
        self.opt_stem1 = nn.Conv2d(4 * opt_channels, channels, 5, padding=2)
        self.opt_stem2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.sar_stem1 = nn.Conv2d(4 * sar_channels, channels, 5, padding=2)
        self.sar_stem2 = nn.Conv2d(channels, channels, 3, padding=1)
        rates = torch.linspace(0, drop_path_rate, num_blocks * num_layers, device='cpu').tolist()
        self.blocks = nn.ModuleList(
            DenseAttentionBlock(channels, growth, num_layers, self.window_size, num_heads,
                                mlp_ratio, rates[i * num_layers:(i + 1) * num_layers])
            for i in range(num_blocks))
        if not shifted:
            for block in self.blocks:
                for layer in block.layers:
                    layer.shift = 0
        self.fusions = nn.ModuleList(LocalFusion(channels, kernel_size) for _ in range(num_blocks))
        self.global_fuse = nn.Sequential(nn.Conv2d(num_blocks * channels, channels, 1),
                                         nn.Conv2d(channels, channels, 3, padding=1))
        self.tail = nn.Sequential(nn.Conv2d(channels, 256, 3, padding=1), nn.PixelShuffle(2),
                                  nn.Conv2d(64, opt_channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = self.opt_channels + self.sar_channels
        if x.dim() != 4 or x.shape[1] != expected:
            raise ValueError(f'GLFCR expects B×{expected}×H×W (the {self.opt_channels} optical '
                             f'bands, then the {self.sar_channels} SAR bands), got {tuple(x.shape)}')
        step = 2 * self.window_size
        if x.shape[-2] % step or x.shape[-1] % step:
            raise ValueError(f'GLFCR needs height and width divisible by {step} (2 × window '
                             f'size {self.window_size}), got {tuple(x.shape[-2:])}; crop or pad '
                             'the input')
        cloudy, sar = x[:, :self.opt_channels], x[:, self.opt_channels:]
        shallow = self.opt_stem1(F.pixel_unshuffle(cloudy, 2))
        opt = self.opt_stem2(shallow)
        sar = self.sar_stem2(self.sar_stem1(F.pixel_unshuffle(sar, 2)))
        outs: List[torch.Tensor] = []
        for block, fusion in zip(self.blocks, self.fusions):
            opt, sar = fusion(*block(opt, sar))
            outs.append(opt)
        feats = self.global_fuse(torch.cat(outs, 1)) + shallow
        return self.tail(feats) + cloudy
