"""HDiT and the multi-temporal HDiT of EMRDM (docs/models.md §3.3, §3.4)."""
import pytest
import torch
from torch import nn

from crbench.models.diffusion.networks.hdit import (
    HDiT, AxialRoPE, SelfAttentionBlock, apply_rotary_emb, make_axial_pos)
from crbench.models.diffusion.networks.hdit_temporal import TemporalHDiT
from crbench.registry import MODELS

from helpers import n_params


NA = dict(type='neighborhood', d_head=16, kernel_size=7)
GLOBAL = dict(type='global', d_head=16)
TINY = dict(widths=[32, 64, 96], depths=[2, 1, 1], d_ffs=[64, 128, 192],
            self_attns=[NA, NA, GLOBAL], dropout_rate=[0.0, 0.0, 0.1],
            mapping_depth=2, mapping_width=64, mapping_d_ff=128, mapping_dropout_rate=0.1)
TINY_TEMPORAL = dict(TINY, in_channels=7, out_channels=3, patch_size=2,
                     temporal_n_heads=4, temporal_d_k=8, temporal_d_ff=192)


def wake_zero_inits(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give the zero-initialised projections random weights so that every
    parameter influences the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and not module.weight.any():
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.05)
    return model


# ---------------------------------------------------------------- counts


def test_param_count_cuhk_and_breakdown():
    with torch.device('meta'):
        model = HDiT(in_channels=8, out_channels=4)
    assert n_params(model) == 39_129_803
    assert n_params(model.patch_in) == 1_024
    assert n_params(model.time_in_proj) == 589_824
    assert n_params(model.mapping) == 7_080_960
    assert [n_params(lv) for lv in model.down_levels] == [720_900, 2_097_160, 4_128_780]
    assert [n_params(lv) for lv in model.up_levels] == [720_900, 2_097_160, 4_128_780]
    assert n_params(model.mid_level) == 14_155_800
    assert [n_params(m) for m in model.merges] == [131_072, 393_216, 1_179_648]
    assert [n_params(m) for m in model.splits] == [131_073, 393_217, 1_179_649]
    assert n_params(model.out_norm) == 128 and n_params(model.patch_out) == 512
    na_params = sum(n_params(layer.self_attn) for lv in model.down_levels[:2] + model.up_levels[:2]
                    for layer in lv)
    assert na_params == 2_490_392


def test_param_count_sen12mscr():
    with torch.device('meta'):
        model = MODELS.build(dict(type='HDiT', in_channels=28, out_channels=13, patch_size=1,
                                  widths=[128, 256, 384, 768], depths=[2, 2, 2, 2],
                                  d_ffs=[256, 512, 768, 1536],
                                  self_attns=[dict(type='neighborhood', d_head=64, kernel_size=7)] * 2
                                  + [dict(type='global', d_head=64)] * 2,
                                  dropout_rate=[0, 0, 0, 0.1]))
    assert n_params(model) == 39_133_515


def test_param_count_temporal_table5():
    with torch.device('meta'):
        model = MODELS.build(dict(
            type='TemporalHDiT', in_channels=7, out_channels=3, patch_size=4,
            widths=[256, 512, 768], depths=[2, 2, 16], d_ffs=[512, 1024, 1536],
            self_attns=[dict(type='neighborhood', d_head=64, kernel_size=7)] * 2
            + [dict(type='global', d_head=64)]))
    assert n_params(model) == 148_878_322
    assert n_params(model.mid_level) == 113_246_400
    assert n_params(model.temporal_encoder) == 5_899_776


def test_official_state_dict_names():
    """Names follow the official network, so its checkpoints load directly."""
    with torch.device('meta'):
        keys = set(TemporalHDiT(**TINY_TEMPORAL).state_dict())
    for key in ['patch_in.proj.weight', 'time_emb.weight', 'time_in_proj.weight',
                'mapping.in_norm.scale', 'mapping.blocks.1.up_proj.weight',
                'down_levels.0.0.self_attn.qkv_proj.weight', 'down_levels.0.0.self_attn.scale',
                'down_levels.0.0.self_attn.pos_emb.freqs', 'down_levels.1.0.ff.norm.linear.weight',
                'mid_level.0.self_attn.out_proj.weight', 'up_levels.0.1.ff.down_proj.weight',
                'merges.1.proj.weight', 'splits.0.fac', 'out_norm.scale', 'patch_out.proj.weight',
                'temporal_encoder.attention_heads.Q', 'temporal_encoder.attention_heads.fc1_k.bias',
                'temporal_encoder.attention_heads.norm.linear.weight',
                'temporal_encoder.ff.up_proj.weight']:
        assert key in keys, key


# ---------------------------------------------------------------- HDiT


def test_zero_init_output():
    torch.manual_seed(0)
    model = HDiT(in_channels=5, out_channels=3, patch_size=1, **TINY)
    out = model(torch.randn(2, 5, 32, 32), torch.randn(2))
    assert out.shape == (2, 3, 32, 32)
    assert torch.count_nonzero(out) == 0
    tmodel = TemporalHDiT(**TINY_TEMPORAL)
    out, attn = tmodel(torch.randn(1, 2, 7, 32, 32), torch.randn(1))
    assert torch.count_nonzero(out) == 0


def test_tiny_hdit_forward_backward():
    torch.manual_seed(0)
    model = wake_zero_inits(HDiT(in_channels=5, out_channels=3, patch_size=1, **TINY)).train()
    x = torch.randn(2, 5, 32, 32, requires_grad=True)
    out = model(x, torch.randn(2))
    assert out.shape == (2, 3, 32, 32) and torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_hdit_rejects_bad_sizes():
    model = HDiT(in_channels=5, out_channels=3, patch_size=2, **TINY)
    with pytest.raises(ValueError):
        model(torch.randn(1, 5, 36, 32), torch.zeros(1))   # 36 not a multiple of 8
    with pytest.raises(ValueError):
        model(torch.randn(1, 4, 32, 32), torch.zeros(1))


# ---------------------------------------------------------------- RoPE


def test_rope_scores_invariant_to_shift():
    """q.k after RoPE depends on positions only through their difference."""
    gen = torch.Generator().manual_seed(0)
    n_heads, d_head = 4, 32
    rope = AxialRoPE(d_head // 2, n_heads).double()
    pos = make_axial_pos(6, 5, dtype=torch.float64).view(-1, 2)
    q = torch.randn(pos.shape[0], n_heads, d_head, generator=gen, dtype=torch.float64)
    k = torch.randn(pos.shape[0], n_heads, d_head, generator=gen, dtype=torch.float64)

    def scores(p):
        theta = rope(p)
        return torch.einsum('ihd,jhd->hij', apply_rotary_emb(q, theta), apply_rotary_emb(k, theta))

    base = scores(pos)
    shifted = scores(pos + torch.tensor([0.37, -1.25], dtype=torch.float64))
    assert torch.allclose(base, shifted, atol=1e-10)
    # and positions do matter: scaling them changes the scores
    assert not torch.allclose(base, scores(pos * 2), atol=1e-3)
    # rotation keeps norms; only the first d_head / 2 channels are rotated
    rotated = apply_rotary_emb(q, rope(pos))
    assert torch.allclose(rotated.norm(dim=-1), q.norm(dim=-1))
    assert torch.equal(rotated[..., d_head // 2:], q[..., d_head // 2:])


def test_attention_block_invariant_to_position_shift():
    torch.manual_seed(0)
    block = wake_zero_inits(SelfAttentionBlock(64, 16, cond_features=8)).double().eval()
    x = torch.randn(2, 4, 6, 64, dtype=torch.float64)
    cond = torch.randn(2, 8, dtype=torch.float64)
    pos = make_axial_pos(4, 6, dtype=torch.float64)
    out = block(x, pos, cond)
    assert torch.allclose(out, block(x, pos + torch.tensor([1.5, -0.3], dtype=torch.float64), cond),
                          atol=1e-10)
    assert not torch.allclose(out, block(x, pos * 3, cond), atol=1e-4)


# ---------------------------------------------------------------- temporal


@pytest.mark.parametrize('frames', [1, 2, 3])
def test_tiny_temporal_forward_backward(frames):
    torch.manual_seed(frames)
    model = wake_zero_inits(TemporalHDiT(**TINY_TEMPORAL)).train()
    x = torch.randn(2, frames, 7, 32, 32)
    out, attn = model(x, torch.randn(2))
    assert out.shape == (2, 3, 32, 32) and torch.isfinite(out).all()
    assert attn.shape == (4, 2, frames, 4, 4)   # 32 / patch 2 / 2 / 2 = 4
    assert torch.allclose(attn.sum(dim=2), torch.ones(4, 2, 4, 4))
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # with one frame the temporal softmax is constant: no gradient to Q / keys
        if frames > 1:
            assert p.grad.abs().sum() > 0, name


def test_temporal_padding_frames_are_ignored():
    torch.manual_seed(0)
    model = wake_zero_inits(TemporalHDiT(**TINY_TEMPORAL)).eval()
    x = torch.randn(1, 3, 7, 32, 32)
    x[:, 1] = 0.0
    c_noise = torch.randn(1)
    with torch.no_grad():
        out, attn = model(x, c_noise)
        out_2, attn_2 = model(x[:, [0, 2]], c_noise)
    assert torch.allclose(out, out_2, atol=1e-5)
    assert attn[:, :, 1].abs().max() < 1e-6
    assert torch.allclose(attn[:, :, [0, 2]], attn_2, atol=1e-6)


def test_temporal_batch_matches_single_samples():
    """Each sample's frames are conditioned on that sample's noise level."""
    torch.manual_seed(0)
    model = wake_zero_inits(TemporalHDiT(**TINY_TEMPORAL)).eval()
    x, c_noise = torch.randn(2, 3, 7, 32, 32), torch.tensor([-1.0, 1.0])
    with torch.no_grad():
        out, attn = model(x, c_noise)
        for i in range(2):
            out_i, attn_i = model(x[i:i + 1], c_noise[i:i + 1])
            assert torch.allclose(out[i:i + 1], out_i, atol=1e-4)
            assert torch.allclose(attn[:, i:i + 1], attn_i, atol=1e-4)
