"""MSDA-CR (multiscale distortion-aware network) generator and its WGAN critic.

Re-implemented from ``docs/models.md`` §1.2 (official code:
``littlebeen/Cloud-removal-model-collection``, ``model/msda``, class
``Generate_quarter`` and ``Discriminator``). Parameters are registered in the
official order with the official shapes, so an official checkpoint maps onto
these classes by position (names differ). That matters beyond MSDA itself: DE
uses a pretrained MSDA-CR as its reference network.
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS

from .layers import ChannelAttention
from .spagan import check_image


def _conv(cin: int, cout: int, k: int = 3, **kw) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=(k - 1) // 2 * kw.get('dilation', 1), **kw)


class DenseStack(nn.Module):
    """``n`` layers of (3×3 conv to ``growth`` channels, ReLU), each output
    concatenated to its input: C → C + n·growth channels."""

    def __init__(self, channels: int, num_layers: int, growth: int):
        super().__init__()
        self.layers = nn.ModuleList(_conv(channels + i * growth, growth)
                                    for i in range(num_layers))
        self.out_channels = channels + num_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # autograd saves each conv's input, which a later in-place write would change;
        # channels-last input has no dense channel slices: both concatenate
        if torch.is_grad_enabled() or not x.is_contiguous():
            for conv in self.layers:
                x = torch.cat([x, F.relu(conv(x))], dim=1)
            return x
        # Each layer's output goes into its slice of one buffer: the features are copied
        # once instead of once per later layer (repeated torch.cat was 18 % of MSDA-CR's
        # CPU time at 256 px). For batch 1 the input slice buf[:, :c] is itself contiguous.
        n, c, h, w = x.shape
        buf = x.new_empty((n, self.out_channels, h, w))
        buf[:, :c] = x
        for conv in self.layers:
            growth = conv.out_channels
            buf[:, c:c + growth] = torch.relu_(conv(buf[:, :c]))  # cast back under autocast
            c += growth
        return buf


class StyleRDB(nn.Module):
    """MSDA-CR's residual dense block with self-guided modulation (official ``rdb3.RDB``).

    * ``out = x + fuse(dense(x))``: a plain residual dense block.
    * From ``out``, two 3×3 convs give C/2 "style" features s1, s2. s1 pooled
      globally and sent through a Linear gives an AdaIN mean and scale
      (C each); s1 gives gamma_r, beta_r maps, s2 gives gamma_t, beta_t maps.
    * ``n = IN(IN(x) + norm_fuse(norm_dense(IN(x))))`` (IN = instance norm
      without affine parameters).
    * Two sigmoid maps A, B (3×3 convs C→1 of n) mix three modulations of n:
      R = n(1+gamma_r)+beta_r, T = n(1+gamma_t)+beta_t, G = scale·n + mean, as
      ``new = R·A + (T·(1-B) + G·B)·(1-A)``.
    * ``x + CA(merge(cat(out, new)))``.

    Dead parameters (created by the official block, never used by its forward,
    kept for the parameter count): ``unused_mix`` (a 1×2 coefficient),
    ``unused_dense`` (a second dense branch), ``unused_fuse`` (its 1×1 fuse),
    ``unused_conv`` (3×3 C→C) and ``unused_att`` (3×3 C→1).
    """

    dead_prefixes = ('unused_mix', 'unused_dense.', 'unused_fuse.', 'unused_conv.', 'unused_att.')

    def __init__(self, channels: int, num_layers: int = 4, growth: int = 16):
        super().__init__()
        if channels % 2:
            raise ValueError(f'StyleRDB needs an even channel count, got {channels}')
        c, half = channels, channels // 2
        self.channels = c
        # Own parameter first: this is also where the official block lists it.
        self.unused_mix = nn.Parameter(torch.ones(1, 2))
        self.dense = DenseStack(c, num_layers, growth)
        self.unused_dense = DenseStack(c, num_layers, growth)
        self.fuse = nn.Conv2d(self.dense.out_channels, c, 1)
        self.unused_fuse = nn.Conv2d(self.unused_dense.out_channels, c, 1)
        self.norm_dense = DenseStack(c, num_layers, growth)
        self.norm_fuse = nn.Conv2d(self.norm_dense.out_channels, c, 1)
        self.style_fc = nn.Linear(half, 2 * c)
        self.style_r = _conv(c, half)
        self.style_t = _conv(c, half)
        self.unused_conv = _conv(c, c)
        self.gamma_t = _conv(half, c)
        self.beta_t = _conv(half, c)
        self.gamma_r = _conv(half, c)
        self.beta_r = _conv(half, c)
        self.att_a = _conv(c, 1)
        self.att_b = _conv(c, 1)
        self.unused_att = _conv(c, 1)
        self.merge = nn.Conv2d(2 * c, c, 1)
        self.channel_att = ChannelAttention(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.fuse(self.dense(x))

        s_r = F.relu(self.style_r(out))
        s_t = F.relu(self.style_t(out))
        style = self.style_fc(s_r.mean(dim=(2, 3)))
        mean = style[:, :self.channels, None, None]
        scale = style[:, self.channels:, None, None]

        y = F.instance_norm(x)
        n = F.instance_norm(y + self.norm_fuse(self.norm_dense(y)))
        a = torch.sigmoid(self.att_a(n))
        b = torch.sigmoid(self.att_b(n))
        r = n * (1 + self.gamma_r(s_r)) + self.beta_r(s_r)
        t = n * (1 + self.gamma_t(s_t)) + self.beta_t(s_t)
        g = scale * n + mean
        new = r * a + (t * (1 - b) + g * b) * (1 - a)
        return x + self.channel_att(self.merge(torch.cat([out, new], dim=1)))

    def dead_parameter_names(self) -> List[str]:
        return [n for n, _ in self.named_parameters() if n.startswith(self.dead_prefixes)]


class DownSample(nn.Module):
    """3×3 stride-2 conv (C→C) + ReLU, 3×3 conv (C→2C) + ReLU: ceil(H/2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.down = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.widen = _conv(channels, 2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.widen(F.relu(self.down(x))))


class UpSample(nn.Module):
    """3×3 stride-2 transposed conv (C→C) + ReLU, 3×3 conv (C→C/2) + ReLU.

    The output size is given explicitly (the size of the finer stream it joins),
    which is what lets the network accept odd sizes.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1)
        self.narrow = _conv(channels, channels // 2)

    def forward(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        return F.relu(self.narrow(F.relu(self.up(x, output_size=list(size)))))


@MODELS.register_module()
class MSDACRGenerator(nn.Module):
    """MSDA-CR generator (official ``Generate_quarter``), docs/models.md §1.2.

    A GridDehazeNet-style grid of 3 rows (scales; 16/32/64 channels at full,
    1/2, 1/4 resolution) and 6 columns. Node (i, j) is fed from its left
    neighbour through a :class:`StyleRDB` and, in the first three columns, from
    the row above through a :class:`DownSample`, in the last three from the
    row below through an :class:`UpSample`; where both arrive they are mixed
    with learned per-channel weights (one ``mix`` tensor, 3×6×2×64, ones).
    After the grid, a context branch at 1/4 scale (conv, dilated convs 2, 4, 8,
    16, conv) is upsampled twice and mixed into the 1/2 and full-scale
    outputs, each time followed by an RDB; then conv3×3 (16→C) and a sigmoid.

    Args:
        in_channels: input and output bands.
        base_channels: channels at full resolution (16 in the official model,
            whose code hard-codes the resulting 16/32/64 mixing slices; any
            value works here because the slices are derived from it).
        num_dense_layers, growth_rate: of every RDB (4 and 16).

    Returns:
        The image only, ``B×C×H×W`` in [0, 1] (sigmoid). The official forward
        returns ``(1, image)``; a framework adapting official code drops the 1.
        Any H, W (upsampling uses explicit output sizes).

    Parameters: 3,908,003 for 4 bands, 3,907,714 for 3 (paper: 3.91M), of
    which 1,004,249 are dead (exist and are counted, never get a gradient),
    kept to match the paper and listed by :meth:`dead_parameter_names`:

    * in each of the 19 RDBs: ``unused_dense`` + ``unused_fuse`` (the unused
      second dense branch, 632,512 + 70,272 in total), ``unused_conv``
      (258,688), ``unused_att`` (5,779) and ``unused_mix`` (38);
    * ``offset1`` and ``offset2`` (36,960): the official code computes them
      for a deformable conv that is commented out and discards the result. We
      do not compute them at all (same output, less work).

    Entries of ``mix`` that the forward never reads are part of a used tensor,
    so they get (zero) gradients and are not counted as dead.
    """

    rows, cols = 3, 6

    def __init__(self, in_channels: int = 4, base_channels: int = 16,
                 num_dense_layers: int = 4, growth_rate: int = 16):
        super().__init__()
        self.in_channels = in_channels
        d, rows, cols, half = base_channels, self.rows, self.cols, self.cols // 2
        self.base_channels = d
        widths = [d * 2 ** i for i in range(rows)]
        coarse = widths[-1]

        def rdb(c):
            return StyleRDB(c, num_dense_layers, growth_rate)

        self.mix = nn.Parameter(torch.ones(rows, cols, 2, coarse))
        # Keys 'i_j'. rdb['i_j'] maps column j to j+1 on row i; down['i_j'] row i
        # to i+1 at column j; up['i_j'] row i+1 to i at column j. The insertion
        # order (up: row 1 before row 0) is the official parameter order.
        self.rdb = nn.ModuleDict({f'{i}_{j}': rdb(widths[i])
                                  for i in range(rows) for j in range(cols - 1)})
        self.up = nn.ModuleDict({f'{i}_{j}': UpSample(widths[i + 1])
                                 for i in reversed(range(rows - 1)) for j in range(half, cols)})
        self.down = nn.ModuleDict({f'{i}_{j}': DownSample(widths[i])
                                   for i in range(rows - 1) for j in range(half)})
        self.conv_in = _conv(in_channels, d)
        self.conv_out = _conv(d, in_channels)
        self.rdb_in = rdb(d)
        self.rdb_out = rdb(d)
        self.context = nn.ModuleList(
            [_conv(coarse, coarse)]
            + [_conv(coarse, coarse, dilation=r) for r in (2, 4, 8, 16)]
            + [_conv(coarse, coarse)])
        self.offset1 = _conv(coarse, coarse // 2)
        self.offset2 = _conv(coarse // 2, coarse)
        self.context_up1 = UpSample(coarse)
        self.context_up2 = UpSample(coarse // 2)
        self.context_rdb1 = rdb(coarse // 2)
        self.context_rdb0 = rdb(d)

    def _weights(self, i: int, j: int, which: int, lo: int, hi: int) -> torch.Tensor:
        return self.mix[i, j, which, lo:hi][None, :, None, None]

    def _grid(self, x: torch.Tensor) -> Dict[Tuple[int, int], torch.Tensor]:
        rows, cols, half = self.rows, self.cols, self.cols // 2
        node = {(0, 0): self.rdb_in(self.conv_in(x))}
        for j in range(cols):
            # Encoder columns are filled top-down (the vertical input comes from
            # above); decoder columns bottom-up (it comes from below).
            order = range(rows) if j < half else reversed(range(rows))
            for i in order:
                if (i, j) == (0, 0):
                    continue
                c = self.base_channels * 2 ** i
                left = self.rdb[f'{i}_{j - 1}'](node[i, j - 1]) if j > 0 else None
                if j < half:
                    vert = self.down[f'{i - 1}_{j}'](node[i - 1, j]) if i > 0 else None
                else:
                    vert = (self.up[f'{i}_{j}'](node[i + 1, j], node[i, j - 1].shape[-2:])
                            if i < rows - 1 else None)
                if left is None or vert is None:
                    node[i, j] = vert if left is None else left
                else:
                    node[i, j] = self._weights(i, j, 0, 0, c) * left + self._weights(i, j, 1, 0, c) * vert
        return node

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_channels, type(self).__name__)
        node = self._grid(x)
        last = self.cols - 1
        fine, mid, coarse = node[0, last], node[1, last], node[2, last]
        d = self.base_channels

        out = self.rdb_out(fine)
        ctx = coarse
        for conv in self.context:
            ctx = F.relu(conv(ctx))
        # (offset1/offset2 would act here on ctx; their result is unused.)
        # The two mixes below reuse column-0 slots of `mix`, which the grid
        # never reads (column 0 has no left input); as in the official code.
        ctx = self.context_up1(ctx, mid.shape[-2:])
        ctx = self._weights(1, 0, 0, 0, 2 * d) * mid + self._weights(1, 0, 0, 2 * d, 4 * d) * ctx
        ctx = self.context_up2(self.context_rdb1(ctx), fine.shape[-2:])
        ctx = self._weights(0, 0, 0, 0, d) * out + self._weights(0, 0, 0, d, 2 * d) * ctx
        return torch.sigmoid(self.conv_out(self.context_rdb0(ctx)))

    def dead_parameter_names(self) -> List[str]:
        dead = [n for n, _ in self.named_parameters() if n.startswith(('offset1.', 'offset2.'))]
        for path, module in self.named_modules():
            if isinstance(module, StyleRDB):
                dead += [f'{path}.{n}' for n in module.dead_parameter_names()]
        return dead


class SelfAttention2d(nn.Module):
    """SAGAN self-attention: ``x + gamma · V softmax(Qᵀ K)``, Q and K with C/8
    channels, gamma initialised to 0 (the block starts as the identity)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)           # B×N×C/8
        k = self.key(x).flatten(2)                              # B×C/8×N
        attn = torch.softmax(torch.bmm(q, k), dim=-1)           # B×N×N, row = query
        v = self.value(x).flatten(2)                            # B×C×N
        out = torch.bmm(v, attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


@MODELS.register_module()
class MSDACRDiscriminator(nn.Module):
    """MSDA-CR's unconditional WGAN-GP critic (official ``Discriminator``).

    Six spectral-normalised 5×5 stride-2 convs (64, 128, 256, 256, 256, 256
    channels), each followed by LeakyReLU(0.2), with SAGAN self-attention after
    the fifth. It sees only the image (no cloudy condition).

    The output is the last feature map flattened: ``B × (4·base·⌈H/64⌉·⌈W/64⌉)``
    scores, i.e. ``B×4096`` for a 256×256 input and ``B×256`` for 64×64. Its
    length therefore depends on the input size (train and test on the same
    size); WGAN losses take its mean. Self-attention runs on the 1/32-scale
    map, so its cost grows with (H·W/1024)².

    Uses ``torch.nn.utils.spectral_norm`` (parameters ``weight_orig``, buffers
    ``weight_u``/``weight_v``, as the official checkpoint). 6,029,057
    parameters for 4 bands; none dead.
    """

    def __init__(self, in_channels: int = 4, base_channels: int = 64):
        super().__init__()
        self.in_channels = in_channels
        b = base_channels
        widths = [in_channels, b, 2 * b, 4 * b, 4 * b, 4 * b, 4 * b]
        sn = nn.utils.spectral_norm
        self.convs = nn.ModuleList(sn(nn.Conv2d(cin, cout, 5, stride=2, padding=2))
                                   for cin, cout in zip(widths[:5], widths[1:6]))
        self.attention = SelfAttention2d(4 * b)
        self.last = sn(nn.Conv2d(widths[5], widths[6], 5, stride=2, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_channels, type(self).__name__)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        x = F.leaky_relu(self.last(self.attention(x)), 0.2)
        return x.flatten(1)
