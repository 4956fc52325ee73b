"""CVAE for thin cloud removal: ViT encoder + image-conditioned conv decoder.

Re-implemented from ``docs/models.md`` §1.3 (official code:
``littlebeen/Cloud-removal-model-collection``, ``model/cvae``, class ``VAE``).
Parameters are registered in the official order with the official shapes, so
an official checkpoint maps onto this class by position (names differ).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS

from .layers import ChannelAttention
from .spagan import check_image


class TransformerBlock(nn.Module):
    """Pre-LN ViT block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` (GELU)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, dim = x.shape
        # qkv features are laid out [q | k | v], each split into heads.
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)             # scale = head_dim ** -0.5
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, dim))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViTPosteriorEncoder(nn.Module):
    """Cloudy image → (mu, logvar) of q(z | x).

    Patch embedding (conv, stride = patch) of the whole image, two extra
    learned tokens (one read out as mu, one as logvar) prepended, a learned
    position embedding over all tokens, ``depth`` pre-LN blocks and a final
    LayerNorm. Embeddings and tokens are initialised from N(0, 1) (official).
    The position embedding fixes the input size.
    """

    def __init__(self, in_channels: int, image_size: int, patch_size: int, dim: int,
                 depth: int, num_heads: int, mlp_ratio: float, latent_dim: int):
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        # Own parameters first: the official module lists them first too.
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 2, dim))
        self.mu_token = nn.Parameter(torch.randn(1, 1, dim))
        self.logvar_token = nn.Parameter(torch.randn(1, 1, dim))
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, mlp_ratio)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.to_mu = nn.Linear(dim, latent_dim)
        self.to_logvar = nn.Linear(dim, latent_dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.mu_token.expand(b, -1, -1),
                            self.logvar_token.expand(b, -1, -1), patches], dim=1)
        tokens = tokens + self.pos_embed
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)
        return self.to_mu(tokens[:, 0]), self.to_logvar(tokens[:, 1])


def _conv_prelu(widths) -> list:
    layers = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.PReLU(cout)]
    return layers


class ConditionalDecoder(nn.Module):
    """z → image residual, conditioned on the cloudy image at every scale.

    ``z → Linear(latent, 512) → Linear(512, B·g·g)`` reshaped to a B×g×g map
    (g = image_size / 16, B = the band count of the decoder table). At 1/16,
    1/8, 1/4 and 1/2 scale the cloudy image, resized bicubically
    (align_corners) to that scale, is concatenated, then convs + PReLU, channel
    attention and a ×2 transposed conv; at full scale the image itself is
    concatenated and convs end in ``out_channels`` and tanh.

    ``table_bands`` is the band count the input widths are built for: the
    official code always uses its 3-band row (it has a 4-band row but never
    selects it), which only works for 3-band images. Normally it equals the
    image's band count.
    """

    scale_widths = ((32, 64, 64), (256, 512), (256, 128), (64, 32))

    def __init__(self, table_bands: int, out_channels: int, latent_dim: int, grid: int):
        super().__init__()
        self.bands, self.grid = table_bands, grid
        self.fc_latent = nn.Linear(latent_dim, 512)
        self.fc_map = nn.Linear(512, table_bands * grid * grid)
        prev = table_bands                       # the reshaped latent map
        stages = []
        for widths in self.scale_widths:
            convs = nn.Sequential(*_conv_prelu((prev + table_bands,) + widths))
            up = nn.ConvTranspose2d(widths[-1], widths[-1], 3, stride=2, padding=1,
                                    output_padding=1)
            stages += [convs, up]
            prev = widths[-1]
        # Stages interleaved (convs, up, convs, up, ...), then the head, then the
        # channel attentions: the official parameter order.
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(*_conv_prelu((prev + table_bands, 128, 256)),
                                  nn.Conv2d(256, out_channels, 3, padding=1))
        self.attention = nn.ModuleList(ChannelAttention(w[-1]) for w in self.scale_widths)

    def forward(self, z: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        b, _, h, w = image.shape
        x = self.fc_map(self.fc_latent(z)).view(b, self.bands, self.grid, self.grid)
        for k in range(len(self.scale_widths)):
            f = 16 >> k                                          # 16, 8, 4, 2
            cond = F.interpolate(image, size=(h // f, w // f), mode='bicubic', align_corners=True)
            x = self.stages[2 * k](torch.cat([x, cond], dim=1))
            x = self.stages[2 * k + 1](self.attention[k](x))
        return torch.tanh(self.head(torch.cat([x, image], dim=1)))


@MODELS.register_module()
class CVAE(nn.Module):
    """Conditional VAE cloud remover (official ``VAE``), docs/models.md §1.3.

    ``(mu, logvar) = E(x)``; ``z = mu + exp(logvar / 2) · eps``;
    ``y = x + tanh(D(z, x))``. The official model samples eps on every forward,
    also at test time, so its predictions are stochastic; ``sample=False``
    uses ``z = mu`` instead (not official, for deterministic checks).

    Args:
        in_channels: bands of input and output.
        image_size: the only accepted H = W (256 officially; the position
            embedding and the g×g latent map are built for it). Must be a
            multiple of 16 and of ``patch_size``.
        patch_size, embed_dim, depth, num_heads, mlp_ratio, latent_dim: ViT
            encoder (16, 512, 4, 8, 2, 50 officially).
        official_4band_param_layout: build the decoder with the official
            hard-coded 3-band table while the encoder and output have 4 bands.
            That is what the unmodified official code builds for
            ``in_channels=4``: it prints 15,552,224 parameters (the paper's
            15.56M) but its forward fails. Here it exists to reproduce that
            count; calling forward raises ``RuntimeError``.

    Returns:
        ``((mu, logvar), image)`` with ``mu, logvar`` B×latent_dim and
        ``image`` B×C×H×W (unbounded: cloudy input plus a tanh residual).

    Parameters: 15,690,464 for 4 bands (the 4-band decoder table, which the
    official code defines but does not select), 15,418,847 for 3 bands; none
    dead.
    """

    def __init__(self, in_channels: int = 4, image_size: int = 256, patch_size: int = 16,
                 embed_dim: int = 512, depth: int = 4, num_heads: int = 8,
                 mlp_ratio: float = 2.0, latent_dim: int = 50,
                 official_4band_param_layout: bool = False):
        super().__init__()
        if image_size % 16 or image_size % patch_size:
            raise ValueError(f'image_size must be a multiple of 16 (four ×2 decoder stages) '
                             f'and of patch_size={patch_size}, got {image_size}')
        if official_4band_param_layout and in_channels != 4:
            raise ValueError('official_4band_param_layout reproduces the official build for '
                             f'in_channels=4 only, got in_channels={in_channels}')
        self.in_channels, self.image_size = in_channels, image_size
        self.official_4band_param_layout = official_4band_param_layout
        self.encoder = ViTPosteriorEncoder(in_channels, image_size, patch_size, embed_dim,
                                           depth, num_heads, mlp_ratio, latent_dim)
        table_bands = 3 if official_4band_param_layout else in_channels
        self.decoder = ConditionalDecoder(table_bands, in_channels, latent_dim, image_size // 16)

    def forward(self, x: torch.Tensor, sample: bool = True,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[Tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        if self.official_4band_param_layout:
            raise RuntimeError(
                'CVAE(official_4band_param_layout=True) only reproduces the official parameter '
                'count (3-band decoder table with 4-band images); like the official code it '
                'cannot run forward. Build it without the flag to train or test.')
        check_image(x, self.in_channels, type(self).__name__)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f'CVAE was built for {self.image_size}×{self.image_size} inputs '
                             f'(position embedding, latent map), got {tuple(x.shape[-2:])}; '
                             'crop or resize, or build with a matching image_size')
        mu, logvar = self.encoder(x)
        z = mu
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps
        return (mu, logvar), x + self.decoder(z, x)
