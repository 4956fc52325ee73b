"""ADM U-Net and DE's CNP / WA networks: official parameter counts, shapes, closed forms."""
import math

import pytest
import torch

from crbench.models.diffusion.networks.adm_unet import (ADMUNet, AttentionBlock, DECNP,
                                                         DEWeightNet, ResBlock,
                                                         timestep_embedding)
from crbench.registry import MODELS

from helpers import n_params


# docs/models.md section 0 (official code, measured): CNP + WA for 4 and 3 bands.
@pytest.mark.parametrize('bands, cnp, wa, total', [
    (4, 32_144_740, 4_660_484, 36_805_224),
    (3, 36_800_326 - 4_658_179, 4_658_179, 36_800_326),
])
def test_official_parameter_counts(bands, cnp, wa, total):
    with torch.device('meta'):
        c = MODELS.build(dict(type='DECNP', num_bands=bands))
        w = MODELS.build(dict(type='DEWeightNet', num_bands=bands))
    assert (n_params(c), n_params(w), n_params(c) + n_params(w)) == (cnp, wa, total)
    assert (c.in_channels, c.out_channels) == (2 * bands, bands)
    assert (w.in_channels, w.out_channels) == (3 * bands, bands)


def test_official_architecture_facts():
    with torch.device('meta'):
        c, w = DECNP(4), DEWeightNet(4)
    c_attn = [m for m in c.modules() if isinstance(m, AttentionBlock)]
    w_attn = [m for m in w.modules() if isinstance(m, AttentionBlock)]
    assert len(c_attn) == 11 and {m.num_heads for m in c_attn} == {4}
    assert len(w_attn) == 6 and {m.num_heads for m in w_attn} == {1}
    assert all(m.scale_shift for m in c.modules() if isinstance(m, ResBlock))
    assert not any(m.scale_shift for m in w.modules() if isinstance(m, ResBlock))
    # widths 96/96/192/192/288 and time embedding 96 -> 384 (CNP), 64 -> 256 (WA)
    assert c.time_embed[0].in_features == 96 and c.time_embed[2].out_features == 384
    assert w.time_embed[0].in_features == 64 and w.time_embed[2].out_features == 256
    assert c.middle_block[0].in_layers[2].out_channels == 288


def tiny(cls, **kw):
    cfg = dict(num_bands=4, model_channels=16, channel_mult=(1, 2), norm_groups=8,
               attention_downsample=(2,))
    cfg.update(kw)
    return cls(**cfg)


def test_tiny_forward_shapes_and_zero_init():
    torch.manual_seed(0)
    cnp, wa = tiny(DECNP, num_heads=2), tiny(DEWeightNet)
    x, y, ref = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    t = torch.tensor([0, 999])
    eps, w = cnp(x, t, y), wa(x, t, y, ref)
    assert eps.shape == w.shape == (2, 4, 16, 16)
    # zero-initialised heads: eps = 0 and W = 0 before training
    assert eps.abs().max() == 0 and w.abs().max() == 0
    # the cloudy image is resized to x_t's size (bilinear) before concatenation
    assert cnp(x, t, y[:, :, ::2, ::2]).shape == (2, 4, 16, 16)
    with pytest.raises(ValueError, match='divisible'):
        cnp(torch.randn(1, 4, 15, 15), t[:1], torch.randn(1, 4, 15, 15))
    with pytest.raises(ValueError, match='input channels'):
        cnp(x, t)


def test_tiny_backward_reaches_all_parameters():
    torch.manual_seed(0)
    cnp = tiny(DECNP, num_heads=2)
    for p in cnp.parameters():  # leave the zero-init regime so every path carries gradient
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(1, 4, 8, 8)
    cnp(x, torch.tensor([10]), x).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cnp.parameters())


def test_timestep_embedding_closed_form():
    t = torch.tensor([0.0, 3.0, 500.0])
    emb = timestep_embedding(t, 8)
    half = 4
    for k in range(half):
        f = math.exp(-math.log(10000) * k / half)
        torch.testing.assert_close(emb[:, k], torch.cos(t * f))
        torch.testing.assert_close(emb[:, half + k], torch.sin(t * f))
    assert timestep_embedding(t, 7).shape == (3, 7)


def test_attention_legacy_head_split_matches_manual():
    torch.manual_seed(0)
    blk = AttentionBlock(16, num_heads=2, norm_groups=4)
    torch.nn.init.normal_(blk.proj_out.weight)
    x = torch.randn(2, 16, 3, 5)
    h = blk.norm(x.reshape(2, 16, 15))
    qkv = blk.qkv(h).reshape(2, 2, 3, 8, 15)  # per head: q, k, v of 8 channels each
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    a = torch.softmax(torch.einsum('bhct,bhcs->bhts', q, k) / math.sqrt(8), dim=-1)
    out = torch.einsum('bhts,bhcs->bhct', a, v).reshape(2, 16, 15)
    expected = x.reshape(2, 16, 15) + blk.proj_out(out)
    torch.testing.assert_close(blk(x), expected.reshape(2, 16, 3, 5), atol=1e-5, rtol=1e-5)


def test_resblock_scale_shift_vs_additive():
    torch.manual_seed(0)
    film = ResBlock(8, 12, 16, scale_shift=True, norm_groups=4)
    add = ResBlock(8, 12, 16, scale_shift=False, norm_groups=4)
    assert film.emb_layers[1].out_features == 32 and add.emb_layers[1].out_features == 16
    x, emb = torch.randn(2, 8, 4, 4), torch.randn(2, 12)
    # zero-init output conv: the block starts as its (1x1) skip connection
    torch.testing.assert_close(film(x, emb), film.skip_connection(x))
    torch.testing.assert_close(add(x, emb), add.skip_connection(x))


def test_generic_unet_registered():
    net = MODELS.build(dict(type='ADMUNet', in_channels=3, out_channels=2, model_channels=8,
                            channel_mult=(1, 2, 2), norm_groups=4, attention_downsample=(4,)))
    assert isinstance(net, ADMUNet)
    assert net(torch.randn(1, 3, 8, 8), torch.tensor([5])).shape == (1, 2, 8, 8)
