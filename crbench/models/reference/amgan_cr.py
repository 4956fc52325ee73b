"""AMGAN-CR (attention-mechanism GAN for cloud removal) generator.

Re-implemented from ``docs/models.md`` §1.5 (official code:
``littlebeen/Cloud-removal-model-collection``, ``model/models_amgan_cr``). Its
discriminator is :class:`crbench.models.reference.spagan.PatchDiscriminator`.
Parameters are registered in the official order with the official shapes, so
an official checkpoint maps by position.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS

from .spagan import Bottleneck, check_image, init_official_gan


def _conv3x3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


class _ResidualPair(nn.Module):
    """conv3×3 → ReLU → conv3×3 → ReLU, added to the input and rectified."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(F.relu(self.conv2(F.relu(self.conv1(x)))) + x)


class AttentiveRecurrentMask(nn.Module):
    """The mask network: ``iterations`` rounds of (conv, 5 residual pairs, ConvLSTM).

    Each round sees the input concatenated with the previous mask (0.5 at the
    start), and the ConvLSTM hidden state carries information between rounds.
    The mask is a plain 3×3 conv of the hidden state: unbounded, no sigmoid
    (official).
    """

    def __init__(self, in_channels: int, features: int = 32, num_pairs: int = 5,
                 iterations: int = 4):
        super().__init__()
        if iterations < 1:
            raise ValueError(f'iterations must be >= 1, got {iterations}')
        self.features, self.iterations = features, iterations
        self.stem = _conv3x3(in_channels + 1, features)
        self.pairs = nn.ModuleList(_ResidualPair(features) for _ in range(num_pairs))
        # Four separate gate convs (input, forget, cell, output), as in the
        # official checkpoint, rather than one fused conv.
        self.gate_i = _conv3x3(2 * features, features)
        self.gate_f = _conv3x3(2 * features, features)
        self.gate_g = _conv3x3(2 * features, features)
        self.gate_o = _conv3x3(2 * features, features)
        self.to_mask = _conv3x3(features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        # Built from x so they follow its device and dtype (the official code
        # creates them with .cuda(), which is why it cannot run on CPU).
        mask = x.new_full((b, 1, h, w), 0.5)
        hidden = x.new_zeros((b, self.features, h, w))
        cell = x.new_zeros((b, self.features, h, w))
        for _ in range(self.iterations):
            f = F.relu(self.stem(torch.cat([x, mask], dim=1)))
            for pair in self.pairs:
                f = pair(f)
            z = torch.cat([f, hidden], dim=1)
            cell = (torch.sigmoid(self.gate_f(z)) * cell
                    + torch.sigmoid(self.gate_i(z)) * torch.tanh(self.gate_g(z)))
            hidden = torch.sigmoid(self.gate_o(z)) * torch.tanh(cell)
            mask = self.to_mask(hidden)
        return mask


@MODELS.register_module()
class AMGANCRGenerator(nn.Module):
    """AMGAN-CR generator (official ``AMGAN``), docs/models.md §1.5.

    1. :class:`AttentiveRecurrentMask` predicts a one-channel mask M (4 rounds).
    2. ``g = ReLU(conv3×3(cat(x, M)))`` and ``f = ReLU(conv3×3(x))``.
    3. ``f = branch_1(f)``; then for k = 1, 2, 3: ``f = ReLU(branch_k(f) * M + g)``
       (branch 1 is therefore applied twice, as in the official forward);
       then for k = 4, 5: ``f = ReLU(branch_k(f) + f)``.
    4. ``image = conv3×3(f)`` (no bias, no activation).

    Args:
        in_channels: bands of the cloudy input.
        out_channels: output bands (default ``in_channels``).
        iterations: rounds of the mask network (4 in the official model).

    Returns:
        ``(mask, image)``: the final mask ``B×1×H×W`` (unbounded; the framework
        regresses it on the attention target) and the image ``B×C×H×W``. Any
        H, W; runs on any device (the official forward is CUDA-only).

    Parameters: 239,425 for 4 bands, 238,273 for 3 (paper: 0.24M). The sixth
    bottleneck ``unused_block`` (11,264 parameters, official ``res_block6``) is
    defined but never used; it is kept only so the count matches the paper, is
    listed by :meth:`dead_parameter_names`, and never receives a gradient.
    """

    def __init__(self, in_channels: int = 4, out_channels: Optional[int] = None,
                 features: int = 32, iterations: int = 4):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels = in_channels
        # Registration order = official order (conv_in, conv_ins, res_block4-6,
        # mask network, res_block1-3, conv_out).
        self.image_in = _conv3x3(in_channels, features, bias=False)
        self.guide_in = _conv3x3(in_channels + 1, features, bias=False)
        self.plain_blocks = nn.ModuleList(Bottleneck(features) for _ in range(2))
        self.unused_block = Bottleneck(features)
        self.mask_net = AttentiveRecurrentMask(in_channels, features, iterations=iterations)
        self.masked_blocks = nn.ModuleList(Bottleneck(features) for _ in range(3))
        self.image_out = _conv3x3(features, out_channels, bias=False)
        init_official_gan(self)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_image(x, self.in_channels, type(self).__name__)
        mask = self.mask_net(x)
        guide = F.relu(self.guide_in(torch.cat([x, mask], dim=1)))
        f = F.relu(self.image_in(x))
        f = self.masked_blocks[0](f)
        for block in self.masked_blocks:
            f = F.relu(block(f) * mask + guide)
        for block in self.plain_blocks:
            f = F.relu(block(f) + f)
        return mask, self.image_out(f)

    def dead_parameter_names(self) -> List[str]:
        return [n for n, _ in self.named_parameters() if n.startswith('unused_block.')]
