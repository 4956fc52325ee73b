"""CTGAN (Huang & Wu, ICIP 2022): the cloud transformer GAN for multi-temporal cloud removal.

Three cloudy dates (R, G, B, NIR) in, one clear R, G, B, NIR image out (configs/ctgan/README.md).

Generator:

1. one shared feature extractor per date: a 3×3 stem, six residual dilated bottlenecks,
   two of which pairs are gated by a predicted cloud map (1 = keep the feature), an ASPP
   head, and an auxiliary 3×3 + tanh head that restores each date on its own;
2. the three pairs of date features (0,1), (0,2), (1,2), each downsampled ×4 by a shared
   strided-conv stack to 256 maps of (H/4)×(W/4);
3. one conformer block on the 768 flattened maps (model width (H/4)·(W/4), 16 heads of
   1024, Shaw relative positions, depthwise kernel 31);
4. two transposed convolutions back to H×W and a 7×7 + tanh head.

The official conformer call transposes its (batch, maps, width) input to (maps, batch,
width) and hands it to a batch-first block: the tokens of the attention and of the
depthwise convolution are then the *samples of the batch*, and each of the 768 maps is a
separate sequence. ``token_axis='batch'`` reproduces that computation, which is what the
published weights were trained and tested with (a sample's output depends on the other
samples of its batch; with batch 1 the attention is the identity mixing). ``'maps'`` runs
the block over the 768 maps of each sample instead, as the paper describes it.

Discriminator: a conditional 5-stride PatchGAN on (three dates, image) = 16 channels.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DilatedBottleneck(nn.Sequential):
    """1×1 → 3×3 (dilation 2) → 1×1, each with BN + ReLU, width kept."""

    def __init__(self, dim: int):
        super().__init__(*conv_bn_relu(dim, dim), *conv_bn_relu(dim, dim, 3, dilation=2),
                         *conv_bn_relu(dim, dim))


class ImagePoolBranch(nn.Module):
    """ASPP's image-level branch: global mean, 1×1 conv, broadcast back (bilinear)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.proj = nn.Sequential(*conv_bn_relu(cin, cout))

    def forward(self, x):
        y = self.proj(F.adaptive_avg_pool2d(x, 1))
        return F.interpolate(y, size=x.shape[-2:], mode='bilinear', align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLabv3): 1×1, three dilated 3×3, image pool."""

    def __init__(self, dim: int, hidden: int = 128, rates: Sequence[int] = (12, 24, 36),
                 dropout: float = 0.1):
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(*conv_bn_relu(dim, hidden))]
            + [nn.Sequential(*conv_bn_relu(dim, hidden, 3, dilation=r)) for r in rates]
            + [ImagePoolBranch(dim, hidden)])
        self.fuse = nn.Sequential(*conv_bn_relu(hidden * (len(rates) + 2), dim),
                                  nn.Dropout(dropout))

    def forward(self, x):
        return self.fuse(torch.cat([b(x) for b in self.branches], 1))


class CloudMapHead(nn.Module):
    """Per-pixel cloud-free weight in (0, 1): 1×1 convs dim → 2·dim → 4·dim → 1, sigmoid."""

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, 2 * dim, 1), nn.BatchNorm2d(2 * dim), nn.ReLU(inplace=True),
            nn.Conv2d(2 * dim, 4 * dim, 1), nn.BatchNorm2d(4 * dim), nn.ReLU(inplace=True),
            nn.Conv2d(4 * dim, 1, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


@MODELS.register_module()
class CTGANFeatureExtractor(nn.Module):
    """One date → (cloud map B×1×H×W, features B×dim×H×W, auxiliary image B×C×H×W).

    The same module, loaded with the official FS-2 pretrained weights and frozen, is the
    teacher of the cloud maps during CTGAN training (the framework's ``mask_teacher``).
    """

    def __init__(self, in_channels: int = 4, dim: int = 32, aspp_hidden: int = 128):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, dim, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(dim), nn.ReLU(inplace=True))
        self.cloud_map = CloudMapHead(dim)
        self.blocks = nn.ModuleList(DilatedBottleneck(dim) for _ in range(6))
        self.aspp = ASPP(dim, aspp_hidden)
        self.aux_head = nn.Conv2d(dim, in_channels, 3, padding=1)

    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.stem(x)
        h = F.relu(self.blocks[0](h) + h)
        # Blocks 2-3 are gated by the map after block 1, blocks 4-5 by the map after block 3;
        # the same head predicts both, only the second is returned.
        for first in (1, 3):
            gate = self.cloud_map(h)
            for block in self.blocks[first:first + 2]:
                h = F.relu(block(h) * gate + h)
        h = F.relu(self.blocks[5](h) + h)
        h = self.aspp(h)
        return gate, h, torch.tanh(self.aux_head(h))


# -- conformer ------------------------------------------------------------------------

class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class FeedForward(nn.Module):
    """Pre-norm position-wise MLP (Swish), added at half weight (Macaron conformer)."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.net = nn.Sequential(nn.Linear(dim, dim * mult), Swish(), nn.Dropout(dropout),
                                 nn.Linear(dim * mult, dim), nn.Dropout(dropout))

    def forward(self, x):
        return 0.5 * self.net(self.norm(x))


class RelativeSelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with Shaw et al. relative position embeddings
    (one learned vector per clipped offset, shared by the heads, dotted with the query)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float = 0.0,
                 max_offset: int = 512):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.scale, self.max_offset = heads, head_dim ** -0.5, max_offset
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)
        self.offset_embedding = nn.Embedding(2 * max_offset + 1, head_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        b, n, _ = x.shape
        x = self.norm(x)
        q, k, v = (self.to_q(x), *self.to_kv(x).chunk(2, dim=-1))
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        pos = torch.arange(n, device=x.device)
        offsets = (pos[:, None] - pos[None, :]).clamp(-self.max_offset, self.max_offset)
        rel = self.offset_embedding(offsets + self.max_offset).to(q)       # n×n×d
        logits = (q @ k.transpose(-1, -2) + torch.einsum('bhid,ijd->bhij', q, rel)) * self.scale
        out = logits.softmax(dim=-1) @ v
        return self.dropout(self.to_out(out.transpose(1, 2).reshape(b, n, -1)))


class ConformerConv(nn.Module):
    """Pre-norm pointwise conv + GLU, depthwise conv ('same' padding), BN, Swish, pointwise."""

    def __init__(self, dim: int, expansion: int = 2, kernel_size: int = 31,
                 dropout: float = 0.0):
        super().__init__()
        inner = dim * expansion
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * inner, 1)
        self.padding = (kernel_size // 2, kernel_size // 2 - (kernel_size + 1) % 2)
        self.depthwise = nn.Conv1d(inner, inner, kernel_size, groups=inner)
        self.bn = nn.BatchNorm1d(inner)
        self.pointwise_out = nn.Conv1d(inner, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = self.pointwise_in(self.norm(x).transpose(1, 2))
        h = F.glu(h, dim=1)
        h = self.depthwise(F.pad(h, self.padding))
        h = self.pointwise_out(Swish()(self.bn(h)))
        return self.dropout(h.transpose(1, 2))


class ConformerBlock(nn.Module):
    """Gulati et al. (2020), Eq. 1: ½FFN, MHSA, Conv, ½FFN (residual each), LayerNorm."""

    def __init__(self, dim: int, heads: int = 16, head_dim: int = 1024, ff_mult: int = 4,
                 conv_expansion: int = 2, conv_kernel: int = 31, dropout: float = 0.1):
        super().__init__()
        self.ff1 = FeedForward(dim, ff_mult, dropout)
        self.attn = RelativeSelfAttention(dim, heads, head_dim, dropout)
        self.conv = ConformerConv(dim, conv_expansion, conv_kernel, dropout)
        self.ff2 = FeedForward(dim, ff_mult, dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        for layer in (self.ff1, self.attn, self.conv, self.ff2):
            x = layer(x) + x
        return self.norm(x)


@MODELS.register_module()
class CTGANGenerator(nn.Module):
    """CTGAN's generator; called on B×(T·C)×H×W (the T = 3 dates stacked on channels).

    Args:
        image_size: training/test side H = W; fixes the conformer width (H/4)² (official:
            256 → 4096). Other sizes are refused.
        in_channels: bands per date (4: R, G, B, NIR); the output has as many.
        num_frames: dates (3; the pairwise fusion is written for three).
        token_axis: ``'batch'`` (official computation, see the module docstring) or
            ``'maps'``.
        ngf / aspp_hidden: base width (also the feature extractor's) and ASPP width
            (official 32 / 128); heads / head_dim / dropout: the conformer's (16 / 1024 / 0.1).

    Returns ``(image, cloud_maps, aux_images)``: the B×C×H×W image in [-1, 1], and per
    date the B×1×H×W cloud map and the auxiliary B×C×H×W restoration.
    """

    def __init__(self, image_size: int = 256, in_channels: int = 4, num_frames: int = 3,
                 ngf: int = 32, heads: int = 16, head_dim: int = 1024, dropout: float = 0.1,
                 token_axis: str = 'batch', aspp_hidden: int = 128):
        super().__init__()
        if num_frames != 3:
            raise ValueError(f'CTGAN fuses the pairs of exactly 3 dates, got num_frames={num_frames}')
        if image_size % 4:
            raise ValueError(f'image_size must be a multiple of 4, got {image_size}')
        if token_axis not in ('batch', 'maps'):
            raise ValueError(f"token_axis must be 'batch' or 'maps', got {token_axis!r}")
        self.image_size, self.in_channels, self.token_axis = image_size, in_channels, token_axis
        self.feature_extractor = CTGANFeatureExtractor(in_channels, ngf, aspp_hidden)

        def down(cin, cout):
            return [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        def up(cin, cout):
            return [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1,
                                       bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.pair_encoder = nn.Sequential(*down(2 * ngf, 4 * ngf), *down(4 * ngf, 8 * ngf))
        self.conformer = ConformerBlock((image_size // 4) ** 2, heads, head_dim, dropout=dropout)
        self.decoder = nn.Sequential(*up(24 * ngf, 12 * ngf), *up(12 * ngf, 6 * ngf),
                                     nn.ReflectionPad2d(3),
                                     nn.Conv2d(6 * ngf, in_channels, 7), nn.Tanh())

    def forward(self, x):
        b, c, h, w = x.shape
        if c != 3 * self.in_channels or (h, w) != (self.image_size, self.image_size):
            raise ValueError(f'CTGANGenerator(image_size={self.image_size}, in_channels='
                             f'{self.in_channels}) needs B×{3 * self.in_channels}×'
                             f'{self.image_size}×{self.image_size} (3 dates on channels), '
                             f'got {tuple(x.shape)}')
        maps, feats, aux = zip(*(self.feature_extractor(f)
                                 for f in x.split(self.in_channels, dim=1)))
        pairs = [torch.cat((feats[i], feats[j]), 1) for i, j in ((0, 1), (0, 2), (1, 2))]
        z = torch.cat([self.pair_encoder(p) for p in pairs], 1)
        z_shape = z.shape
        tokens = z.flatten(2)                                           # B × 768 × (H/4·W/4)
        if self.token_axis == 'batch':
            tokens = self.conformer(tokens.transpose(0, 1)).transpose(0, 1)
        else:
            tokens = self.conformer(tokens)
        return self.decoder(tokens.reshape(z_shape)), list(maps), list(aux)


@MODELS.register_module()
class CTGANDiscriminator(nn.Module):
    """Conditional PatchGAN: (condition B×Cc×H×W, image B×Ci×H×W) → B×1×(H/32 − 1)².

    Five stride-2 convolutions (an extra ndf → ndf one before pix2pix's widening, and the
    8·ndf layer strided too), so it is not pix2pix's ``n_layers`` PatchGAN
    (:class:`Pix2PixPatchDiscriminator`); 256 px give 7×7 logits.
    """

    def __init__(self, in_channels: int = 16, ndf: int = 64):
        super().__init__()
        widths = [ndf, ndf, 2 * ndf, 4 * ndf, 8 * ndf]
        layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                  nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(8 * ndf, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        self.in_channels = in_channels

    def forward(self, condition, image):
        x = torch.cat((condition, image), 1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'CTGANDiscriminator(in_channels={self.in_channels}) got '
                             f'{condition.shape[1]} condition + {image.shape[1]} image channels')
        return self.net(x)


__all__ = ['CTGANFeatureExtractor', 'CTGANGenerator', 'CTGANDiscriminator']
