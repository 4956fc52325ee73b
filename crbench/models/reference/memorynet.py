"""MemoryNet baseline of the cloud-removal collection, which is MPRNet.

The collection ships ``model/mn`` under the name "MemoryNet", but the network
it builds is MPRNet (Zamir et al., "Multi-Stage Progressive Image
Restoration", CVPR 2021) in its deraining size (n_feat 40): no memory module
exists anywhere. We keep the collection's name so configs and tables line up
with the paper that reports it, and re-implement MPRNet from its description
(docs/models.md §1.1) so that the parameter count matches the official build
exactly (3,638,993 for 4 bands, 3,637,249 for 3 bands).

Layout (C = bands, F = ``n_feat``, S = ``scale_unetfeats``, O = ``scale_orsnetfeats``)::

    stage 1: 4 quadrants -> shallow conv+CAB (F) -> U-Net encoder (F, F+S, F+2S)
             -> quadrant features joined left|right -> U-Net decoder -> SAM
    stage 2: 2 halves -> shallow conv+CAB, concat stage-1 SAM features,
             conv3x3 2F->F -> encoder with cross-stage fusion -> halves joined
             top/bottom -> decoder -> SAM
    stage 3: full image -> shallow conv+CAB, concat stage-2 SAM features,
             conv3x3 2F->F+O -> ORSNet (3 ORBs at full resolution, each
             followed by projected stage-2 encoder+decoder features)
             -> conv3x3 to C + input image
"""
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS
from .layers import ChannelAttention


def _conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool) -> nn.Conv2d:
    # 'same' padding for odd kernels: every feature map keeps its patch size.
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)


class CAB(nn.Module):
    """Channel attention block: x + CA(conv(act(conv(x))))."""

    def __init__(self, channels: int, kernel_size: int, reduction: int, bias: bool,
                 act: nn.Module):
        super().__init__()
        self.conv1 = _conv(channels, channels, kernel_size, bias)
        # ``act`` is the single PReLU owned by MemoryNet and shared by every CAB
        # (the official count has exactly one PReLU slope). It is registered in
        # each CAB too; ``parameters()`` de-duplicates shared tensors, so it is
        # still counted and optimised once.
        self.act = act
        self.conv2 = _conv(channels, channels, kernel_size, bias)
        self.ca = ChannelAttention(channels, reduction, bias)

    def forward(self, x):
        return x + self.ca(self.conv2(self.act(self.conv1(x))))


class SAM(nn.Module):
    """Supervised attention module (1x1 convs, as the official build uses).

    Predicts a stage image (residual on the input patch, supervised by the
    loss) and turns it back into a sigmoid gate on the features handed to the
    next stage.
    """

    def __init__(self, channels: int, img_channels: int, bias: bool):
        super().__init__()
        self.feat = nn.Conv2d(channels, channels, 1, bias=bias)
        self.to_img = nn.Conv2d(channels, img_channels, 1, bias=bias)
        self.from_img = nn.Conv2d(img_channels, channels, 1, bias=bias)

    def forward(self, x, x_img):
        img = self.to_img(x) + x_img
        gate = torch.sigmoid(self.from_img(img))
        return x + self.feat(x) * gate, img


class Down(nn.Module):
    """Bilinear x0.5 then a bias-free 1x1 conv that widens by ``grow`` channels."""

    def __init__(self, channels: int, grow: int):
        super().__init__()
        self.proj = nn.Conv2d(channels, channels + grow, 1, bias=False)

    def forward(self, x):
        return self.proj(F.interpolate(x, scale_factor=0.5, mode='bilinear', align_corners=False))


class Up(nn.Module):
    """Bilinear x2 then a bias-free 1x1 conv that narrows by ``shrink`` channels."""

    def __init__(self, channels: int, shrink: int):
        super().__init__()
        self.proj = nn.Conv2d(channels, channels - shrink, 1, bias=False)

    def forward(self, x):
        return self.proj(F.interpolate(x, scale_factor=2.0, mode='bilinear', align_corners=False))


def _cabs(n: int, channels: int, kernel_size: int, reduction: int, bias: bool, act) -> nn.Sequential:
    return nn.Sequential(*[CAB(channels, kernel_size, reduction, bias, act) for _ in range(n)])


class Encoder(nn.Module):
    """Three-scale U-Net encoder (2 CABs per scale); optional cross-stage fusion.

    With ``fuse=True`` (stage 2) each scale adds 1x1-projected encoder and
    decoder features of the previous stage before it is downsampled.
    """

    def __init__(self, n_feat: int, grow: int, kernel_size: int, reduction: int, bias: bool,
                 act, fuse: bool):
        super().__init__()
        widths = [n_feat, n_feat + grow, n_feat + 2 * grow]
        self.levels = nn.ModuleList(_cabs(2, w, kernel_size, reduction, bias, act) for w in widths)
        self.downs = nn.ModuleList(Down(w, grow) for w in widths[:2])
        self.fuse_enc = self.fuse_dec = None
        if fuse:
            self.fuse_enc = nn.ModuleList(nn.Conv2d(w, w, 1, bias=bias) for w in widths)
            self.fuse_dec = nn.ModuleList(nn.Conv2d(w, w, 1, bias=bias) for w in widths)

    def forward(self, x, prev_enc=None, prev_dec=None) -> List[torch.Tensor]:
        fusing = prev_enc is not None
        if fusing != (prev_dec is not None) or fusing != (self.fuse_enc is not None):
            raise ValueError('cross-stage fusion needs both previous encoder and decoder features, '
                             'and only an encoder built with fuse=True accepts them')
        outs = []
        for i, level in enumerate(self.levels):
            if i > 0:
                x = self.downs[i - 1](x)
            x = level(x)
            if prev_enc is not None:
                x = x + self.fuse_enc[i](prev_enc[i]) + self.fuse_dec[i](prev_dec[i])
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """Three-scale U-Net decoder; skips pass through an extra CAB and are added."""

    def __init__(self, n_feat: int, grow: int, kernel_size: int, reduction: int, bias: bool, act):
        super().__init__()
        widths = [n_feat, n_feat + grow, n_feat + 2 * grow]
        self.levels = nn.ModuleList(_cabs(2, w, kernel_size, reduction, bias, act) for w in widths)
        self.skips = nn.ModuleList(CAB(w, kernel_size, reduction, bias, act) for w in widths[:2])
        self.ups = nn.ModuleList(Up(w, grow) for w in widths[1:])

    def forward(self, enc: List[torch.Tensor]) -> List[torch.Tensor]:
        # Returned fine-to-coarse, like the encoder, so stages can index both alike.
        x = self.levels[2](enc[2])
        outs = [x]
        for i in (1, 0):
            x = self.levels[i](self.ups[i](x) + self.skips[i](enc[i]))
            outs.insert(0, x)
        return outs


class ORB(nn.Module):
    """Original-resolution block: ``num_cab`` CABs + conv3x3, residual."""

    def __init__(self, channels: int, kernel_size: int, reduction: int, bias: bool, act, num_cab: int):
        super().__init__()
        self.cabs = _cabs(num_cab, channels, kernel_size, reduction, bias, act)
        # Bias-free regardless of ``bias``: the official ORB builds this conv
        # with the helper's default, and the parameter count follows it.
        self.conv = _conv(channels, channels, kernel_size, bias=False)

    def forward(self, x):
        return x + self.conv(self.cabs(x))


class ORSNet(nn.Module):
    """Stage 3: three ORBs; after each, stage-2 features of one scale are added.

    Coarser stage-2 features are brought to full resolution with chains of
    ``Up`` (back to ``n_feat`` channels) and then 1x1-projected to the
    ORSNet width ``n_feat + scale_orsnetfeats``.
    """

    def __init__(self, n_feat: int, grow: int, extra: int, kernel_size: int, reduction: int,
                 bias: bool, act, num_cab: int):
        super().__init__()
        width = n_feat + extra
        self.orbs = nn.ModuleList(ORB(width, kernel_size, reduction, bias, act, num_cab) for _ in range(3))

        def up_chain(level):
            # level 1: (F+S) -> F; level 2: (F+2S) -> (F+S) -> F
            return nn.Sequential(*[Up(n_feat + k * grow, grow) for k in range(level, 0, -1)])

        self.up_enc = nn.ModuleList([nn.Identity(), up_chain(1), up_chain(2)])
        self.up_dec = nn.ModuleList([nn.Identity(), up_chain(1), up_chain(2)])
        self.proj_enc = nn.ModuleList(nn.Conv2d(n_feat, width, 1, bias=bias) for _ in range(3))
        self.proj_dec = nn.ModuleList(nn.Conv2d(n_feat, width, 1, bias=bias) for _ in range(3))

    def forward(self, x, enc, dec):
        for i, orb in enumerate(self.orbs):
            x = orb(x)
            x = x + self.proj_enc[i](self.up_enc[i](enc[i])) + self.proj_dec[i](self.up_dec[i](dec[i]))
        return x


@MODELS.register_module()
class MemoryNet(nn.Module):
    """MPRNet as built by the collection's ``model/mn`` (called "MemoryNet").

    Args:
        in_channels: bands of the cloudy input (4 for CUHK-CR, 3 for RICE).
        out_channels: bands of the output; must equal ``in_channels`` because
            every stage image is a residual on the input. ``None`` = same.
        n_feat, scale_unetfeats, scale_orsnetfeats, num_cab, kernel_size,
        reduction, bias: MPRNet hyper-parameters (defaults: the collection's
            deraining-size build, 3.64M parameters for 4 bands).

    ``forward(x)`` takes B×C×H×W with H and W divisible by 8 (quadrant split,
    then two U-Net halvings) and returns ``[stage3, stage2, stage1]`` images,
    each B×C×H×W, unclamped. The official eval path returns
    ``clamp(stage3, 0, 1)``; clamping to the data range is left to the
    framework.

    Quirks of the official build reproduced here (they fix the count):
    one PReLU shared by all CABs (a single slope parameter); SAM uses 1x1
    convs; the ORB tail conv and all resize 1x1 convs are bias-free even when
    ``bias=True``; stage 1 treats the four quadrants with shared weights and
    only mixes left and right halves inside the decoder, so the stage-1 top
    half never sees the bottom half of the input. The official training
    loss is Charbonnier + 0.05 x Laplacian edge loss summed over the three
    stage images; its edge loss is 3-band only (see
    ``crbench.models.losses.LaplacianEdgeLoss`` for the band-agnostic one).
    """

    def __init__(self, in_channels: int = 4, out_channels: int = None, n_feat: int = 40,
                 scale_unetfeats: int = 20, scale_orsnetfeats: int = 16, num_cab: int = 8,
                 kernel_size: int = 3, reduction: int = 4, bias: bool = False):
        super().__init__()
        if out_channels is None:
            out_channels = in_channels
        if out_channels != in_channels:
            raise ValueError(
                f'MemoryNet (MPRNet) adds the input image to every stage output, so out_channels '
                f'must equal in_channels; got in_channels={in_channels}, out_channels={out_channels}. '
                f'Pass out_channels=None or {in_channels}.')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd to keep feature sizes, got {kernel_size}')
        self.in_channels = self.out_channels = in_channels
        F_, S, O = n_feat, scale_unetfeats, scale_orsnetfeats

        self.act = nn.PReLU()  # the one shared activation (see CAB)
        act = self.act

        def shallow():
            return nn.Sequential(_conv(in_channels, F_, kernel_size, bias),
                                 CAB(F_, kernel_size, reduction, bias, act))

        self.shallow1, self.shallow2, self.shallow3 = shallow(), shallow(), shallow()
        self.encoder1 = Encoder(F_, S, kernel_size, reduction, bias, act, fuse=False)
        self.decoder1 = Decoder(F_, S, kernel_size, reduction, bias, act)
        self.sam12 = SAM(F_, in_channels, bias)
        self.merge12 = _conv(2 * F_, F_, kernel_size, bias)
        self.encoder2 = Encoder(F_, S, kernel_size, reduction, bias, act, fuse=True)
        self.decoder2 = Decoder(F_, S, kernel_size, reduction, bias, act)
        self.sam23 = SAM(F_, in_channels, bias)
        self.merge23 = _conv(2 * F_, F_ + O, kernel_size, bias)
        self.orsnet = ORSNet(F_, S, O, kernel_size, reduction, bias, act, num_cab)
        self.tail = _conv(F_ + O, in_channels, kernel_size, bias)

    def _check(self, x: torch.Tensor):
        if x.dim() != 4:
            raise ValueError(f'MemoryNet expects a B×C×H×W tensor, got shape {tuple(x.shape)}')
        b, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f'MemoryNet was built for {self.in_channels} bands but got {c} '
                             f'(input shape {tuple(x.shape)}); set in_channels={c}.')
        if h % 8 or w % 8:
            raise ValueError(
                f'MemoryNet (MPRNet) needs H and W divisible by 8 (quadrant split followed by two '
                f'x0.5 U-Net scales); got input shape {tuple(x.shape)}. Crop or pad the image, '
                f'e.g. to {h // 8 * 8 or 8}x{w // 8 * 8 or 8}.')

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        self._check(x)
        h, w = x.shape[-2] // 2, x.shape[-1] // 2
        halves = [x[..., :h, :], x[..., h:, :]]                      # stage 2: top, bottom
        quads = [[half[..., :w], half[..., w:]] for half in halves]  # stage 1: (left, right) per half

        # Stage 1: shared weights on the four quadrants; encoder features of a
        # left/right pair are joined along W so the decoder works on halves.
        enc1, dec1, sam_feats, stage1 = [], [], [], []
        for half_img, (left, right) in zip(halves, quads):
            e_l = self.encoder1(self.shallow1(left))
            e_r = self.encoder1(self.shallow1(right))
            e = [torch.cat(pair, dim=3) for pair in zip(e_l, e_r)]
            d = self.decoder1(e)
            feats, img = self.sam12(d[0], half_img)
            enc1.append(e)
            dec1.append(d)
            sam_feats.append(feats)
            stage1.append(img)
        stage1_img = torch.cat(stage1, dim=2)

        # Stage 2: each half fused with its stage-1 SAM features and stage-1
        # encoder/decoder features, then the halves are joined along H.
        enc2 = []
        for i, half_img in enumerate(halves):
            z = self.merge12(torch.cat([self.shallow2(half_img), sam_feats[i]], dim=1))
            enc2.append(self.encoder2(z, enc1[i], dec1[i]))
        enc2 = [torch.cat(pair, dim=2) for pair in zip(*enc2)]
        dec2 = self.decoder2(enc2)
        feats, stage2_img = self.sam23(dec2[0], x)

        # Stage 3: full resolution, no downsampling.
        z = self.merge23(torch.cat([self.shallow3(x), feats], dim=1))
        z = self.orsnet(z, enc2, dec2)
        stage3_img = self.tail(z) + x
        return [stage3_img, stage2_img, stage1_img]
