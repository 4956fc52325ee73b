"""SpA-GAN (spatial-attention GAN) generator and the conditional PatchGAN critic.

Re-implemented from the facts in ``docs/models.md`` §1.4 (official code:
``littlebeen/Cloud-removal-model-collection``, ``model/models_spagan``). The
discriminator is shared with AMGAN-CR (§1.5), which imports it from here, and
so is the bottleneck residual branch.

Parameters are registered in the same order and with the same shapes as the
official modules, so an official checkpoint maps onto these classes by
position (names differ).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def check_image(x: torch.Tensor, channels: int, who: str) -> None:
    """Raise a readable error instead of a cryptic conv shape mismatch."""
    if not torch.is_tensor(x) or x.dim() != 4:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f'{who} expects a B×C×H×W tensor, got {shape}')
    if x.shape[1] != channels:
        raise ValueError(f'{who} was built for {channels} input channels, '
                         f'got a tensor with {x.shape[1]} (shape {tuple(x.shape)})')
    if not x.is_floating_point():
        raise TypeError(f'{who} expects a floating-point tensor, got {x.dtype}')


def init_official_gan(module: nn.Module) -> None:
    """The official GAN init: every conv weight ~ N(0, 0.02), BN weight ~ N(1, 0.02),
    BN bias 0. Conv biases keep PyTorch's default init, as in the official code."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Bottleneck(nn.Module):
    """1×1 → ReLU → 3×3 (dilation 2) → ReLU → 1×1, no biases.

    Returns the residual *branch* only: the caller decides how it is gated and
    added, which differs between blocks (plain, attention-gated, AMGAN's mask).
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels, 1, bias=False)
        self.dilated = nn.Conv2d(channels, channels, 3, padding=2, dilation=2, bias=False)
        self.expand = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.reduce(x))
        x = F.relu(self.dilated(x))
        return self.expand(x)


class NeighbourShift(nn.Module):
    """The official "IRNN" layer, which is a single recurrence step, not a sweep.

    For each of four directions, every pixel receives its neighbour on that side
    scaled by a per-channel weight and bias (a depthwise 1×1 conv), added to
    itself and rectified. The first row/column in the direction of travel has
    no neighbour and is passed through unchanged. Returns (up, right, down,
    left), the order in which the official code concatenates them.
    """

    def __init__(self, channels: int):
        super().__init__()
        # Registration order left, right, up, down follows the official layer.
        def depthwise():
            return nn.Conv2d(channels, channels, 1, groups=channels)
        self.from_left = depthwise()
        self.from_right = depthwise()
        self.from_above = depthwise()
        self.from_below = depthwise()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        up = self._step(x, self.from_above, -2, from_start=True)
        right = self._step(x, self.from_right, -1, from_start=False)
        down = self._step(x, self.from_below, -2, from_start=False)
        left = self._step(x, self.from_left, -1, from_start=True)
        return up, right, down, left

    @staticmethod
    def _step(x: torch.Tensor, conv: nn.Conv2d, dim: int,
              from_start: bool) -> torch.Tensor:
        """relu(w·neighbour + b + pixel); the edge the neighbour comes from
        passes unchanged. The depthwise 1×1 convolution is the element-wise
        w·x + b: as a convolution PyTorch runs it one channel at a time on
        CPU (a third of SpA-GAN's time)."""
        n = x.shape[dim]
        weight = conv.weight.view(1, -1, 1, 1)
        bias = conv.bias.view(1, -1, 1, 1)
        src, dst = (0, 1) if from_start else (1, 0)
        edge = x.narrow(dim, 0 if from_start else n - 1, 1)
        moved = torch.addcmul(bias, x.narrow(dim, src, n - 1), weight)
        moved = moved.add_(x.narrow(dim, dst, n - 1)).relu_()
        return torch.cat([edge, moved] if from_start else [moved, edge], dim)


class SpatialAttentionModule(nn.Module):
    """SpA-GAN's SAM: features → one-channel sigmoid attention map.

    1×1 conv → shift (4 directions, concat) → 1×1 → shift → 1×1 → ReLU → 1×1 → sigmoid.

    Two parameter groups exist only to reproduce the official parameter count
    (they never influence the output and never receive a gradient):

    * ``unused_conv_in`` (3×3, 9,216 parameters): defined, never called.
    * ``direction`` (3×3, 3×3, 1×1 convs, 7,012 parameters): the official code
      computes four direction weights and multiplies the shifted maps by them
      out of place, discarding the products. We skip that dead computation;
      the output is identical.
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.shift1 = NeighbourShift(channels)
        self.shift2 = NeighbourShift(channels)
        self.unused_conv_in = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.fuse1 = nn.Conv2d(4 * channels, channels, 1)
        self.fuse2 = nn.Conv2d(4 * channels, channels, 1)
        half = channels // 2
        self.direction = nn.Sequential(
            nn.Conv2d(channels, half, 3, padding=1), nn.ReLU(),
            nn.Conv2d(half, half, 3, padding=1), nn.ReLU(),
            nn.Conv2d(half, 4, 1), nn.Sigmoid())
        self.to_map = nn.Conv2d(channels, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fuse1(torch.cat(self.shift1(self.proj_in(x)), dim=1))
        x = F.relu(self.fuse2(torch.cat(self.shift2(x), dim=1)))
        return torch.sigmoid(self.to_map(x))

    dead_parameter_prefixes = ('unused_conv_in.', 'direction.')


@MODELS.register_module()
class SpAGANGenerator(nn.Module):
    """SpA-GAN generator (official ``SPANet``), docs/models.md §1.4.

    conv3×3 (C→32) + ReLU, 17 bottleneck residual blocks, conv3×3 (32→C); no
    output activation and no global residual. Block ``k`` computes
    ``f = ReLU(branch_k(f) * A + f)`` with ``A = 1`` for blocks 1–3 and 16–17 and
    ``A`` = the attention map for blocks 4–15. One SAM instance (shared
    weights) recomputes the map before blocks 4, 7, 10 and 13.

    Args:
        in_channels: bands of the cloudy input.
        out_channels: bands of the output (default: ``in_channels``, as official).
        features: width of the trunk (32 in the official model).

    Returns:
        ``(attention, image)``: the last attention map ``B×1×H×W`` (trained
        against the attention target M by the framework) and the image
        ``B×C×H×W``. Any H, W work.

    Parameters: 219,876 for 4 bands, 219,300 for 3 (paper: 0.22M). 16,228 of
    them are dead (see :class:`SpatialAttentionModule`) and kept only to match
    the official count; :meth:`dead_parameter_names` lists them, which a DDP
    wrapper needs (``find_unused_parameters``).
    """

    num_blocks = 17
    # 0-based indices of the blocks gated by attention, and where the map is refreshed.
    gated = range(3, 15)
    refresh = (3, 6, 9, 12)

    def __init__(self, in_channels: int = 4, out_channels: Optional[int] = None,
                 features: int = 32):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels = in_channels
        self.conv_in = nn.Conv2d(in_channels, features, 3, padding=1, bias=False)
        self.sam = SpatialAttentionModule(features)
        self.blocks = nn.ModuleList(Bottleneck(features) for _ in range(self.num_blocks))
        self.conv_out = nn.Conv2d(features, out_channels, 3, padding=1, bias=False)
        init_official_gan(self)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_image(x, self.in_channels, type(self).__name__)
        f = F.relu(self.conv_in(x))
        attention = None
        for k, block in enumerate(self.blocks):
            if k in self.refresh:
                attention = self.sam(f)
            branch = block(f)
            if k in self.gated:
                branch = branch * attention
            f = F.relu(branch + f)
        return attention, self.conv_out(f)

    def dead_parameter_names(self) -> List[str]:
        return [n for n, _ in self.named_parameters()
                if n.startswith(tuple('sam.' + p for p in self.sam.dead_parameter_prefixes))]


class _DownBlock(nn.Module):
    """4×4 stride-2 conv (+ BN) + LeakyReLU(0.2): halves H and W (floor)."""

    def __init__(self, cin: int, cout: int, norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)
        self.norm = nn.BatchNorm2d(cout) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return F.leaky_relu(x, 0.2)


@MODELS.register_module()
class PatchDiscriminator(nn.Module):
    """Conditional two-branch PatchGAN of SpA-GAN and AMGAN-CR (same official code).

    The cloudy image and the (real or generated) cloud-free image enter two
    separate first layers (4×4 stride-2 conv to 32 channels each, no norm); the
    results are concatenated (64) and go through 4×4 stride-2 convs
    64→128→256→512 with BatchNorm and LeakyReLU(0.2), then a 3×3 conv to one
    logit per patch. The output is ``B×1×⌊H/16⌋×⌊W/16⌋`` raw logits (16×16 for
    a 256 input); use them with the logistic (softplus) GAN loss.

    Args:
        in_channels: bands of the cloudy condition.
        out_channels: bands of the image judged (default: ``in_channels``).

    Forward takes either the official concatenation ``cat([cloudy, image], 1)``
    or the two tensors ``(cloudy, image)``. H and W must be at least 16.
    2,763,969 parameters for 4 + 4 bands; none are dead.
    """

    def __init__(self, in_channels: int = 4, out_channels: Optional[int] = None,
                 features: int = 32):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.cond_branch = _DownBlock(in_channels, features, norm=False)
        self.image_branch = _DownBlock(out_channels, features, norm=False)
        self.trunk = nn.Sequential(
            _DownBlock(2 * features, 4 * features, norm=True),
            _DownBlock(4 * features, 8 * features, norm=True),
            _DownBlock(8 * features, 16 * features, norm=True))
        self.head = nn.Conv2d(16 * features, 1, 3, padding=1)
        init_official_gan(self)

    def forward(self, x: torch.Tensor, image: Optional[torch.Tensor] = None) -> torch.Tensor:
        name = type(self).__name__
        if image is not None:
            check_image(x, self.in_channels, name + ' (condition)')
            check_image(image, self.out_channels, name + ' (image)')
            cond = x
        else:
            check_image(x, self.in_channels + self.out_channels,
                        name + ' (condition and image concatenated)')
            cond, image = x[:, :self.in_channels], x[:, self.in_channels:]
        if min(cond.shape[-2:]) < 16:
            raise ValueError(f'{name} needs H, W >= 16 (four stride-2 layers), '
                             f'got {tuple(cond.shape[-2:])}')
        h = torch.cat([self.cond_branch(cond), self.image_branch(image)], dim=1)
        return self.head(self.trunk(h))
