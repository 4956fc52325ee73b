"""Pure-PyTorch 2-D neighbourhood attention vs a dense masked brute force."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from crbench.models.diffusion.networks import neighborhood_attention as na_mod
from crbench.models.diffusion.networks.neighborhood_attention import (
    neighborhood_attention_2d, neighborhood_index_maps, set_natten_enabled)


def natten_window(i: int, length: int, k: int) -> range:
    """natten's window along one axis: centred, shifted inside the map."""
    k = min(k, length)
    start = i - k // 2
    if start < 0:
        start = 0
    if start + k > length:
        start = length - k
    return range(start, start + k)


def brute_force(q, k, v, kernel_size, scale):
    """Dense N x N attention with a mask built position by position."""
    b, h, w, nh, d = q.shape
    mask = torch.zeros(h * w, h * w, dtype=torch.bool)
    for i in range(h):
        for j in range(w):
            for a in natten_window(i, h, kernel_size):
                for c in natten_window(j, w, kernel_size):
                    mask[i * w + j, a * w + c] = True
    qf, kf, vf = (t.reshape(b, h * w, nh, d).transpose(1, 2) for t in (q, k, v))
    logits = (qf @ kf.transpose(-1, -2)) * scale
    attn = logits.masked_fill(~mask, float('-inf')).softmax(-1)
    return (attn @ vf).transpose(1, 2).reshape(b, h, w, nh, d)


@pytest.mark.parametrize('h, w, kernel_size, scale', [
    (9, 11, 7, 1.0),    # every border case of a 7x7 window
    (7, 7, 7, 0.5),     # window == map: global attention
    (12, 5, 3, 2.0),    # non-square, small kernel
    (4, 9, 7, 1.0),     # map narrower than the kernel on one axis
])
def test_matches_brute_force_forward_and_backward(h, w, kernel_size, scale):
    gen = torch.Generator().manual_seed(h * 100 + w)
    q, k, v = (torch.randn(2, h, w, 3, 8, generator=gen, dtype=torch.float64,
                           requires_grad=True) for _ in range(3))
    out = neighborhood_attention_2d(q, k, v, kernel_size, scale=scale)
    ref = brute_force(q, k, v, kernel_size, scale)
    assert out.shape == (2, h, w, 3, 8)
    assert (out - ref).abs().max() <= 1e-5
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    g_out = torch.autograd.grad(out, (q, k, v), grad)
    g_ref = torch.autograd.grad(ref, (q, k, v), grad)
    for a, b in zip(g_out, g_ref):
        assert (a - b).abs().max() <= 1e-5


def test_float32_and_partial_grads():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 10, 10, 2, 16, generator=gen) for _ in range(3))
    k.requires_grad_(True)  # only k needs a gradient
    out = neighborhood_attention_2d(q, k, v, 5)
    ref = brute_force(q, k, v, 5, 1.0)
    assert (out - ref).abs().max() <= 1e-5
    (g,) = torch.autograd.grad(out.square().sum(), (k,))
    (g_ref,) = torch.autograd.grad(ref.square().sum(), (k,))
    assert (g - g_ref).abs().max() <= 1e-4 * max(1.0, g_ref.abs().max().item())


def test_gradcheck_small():
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 4, 5, 1, 2, generator=gen, dtype=torch.float64,
                           requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(
        lambda a, b, c: neighborhood_attention_2d(a, b, c, 3, scale=0.7), (q, k, v))


def test_border_windows_index_maps():
    rows, cols = neighborhood_index_maps(9, 12, 7)
    assert rows.shape == (7, 9) and cols.shape == (7, 12)
    for i in range(9):
        assert rows[:, i].tolist() == list(natten_window(i, 9, 7))
    for j in range(12):
        assert cols[:, j].tolist() == list(natten_window(j, 12, 7))
    # corner query sees the top-left 7x7 block, centre queries are centred
    assert rows[:, 0].tolist() == list(range(7)) and rows[:, 8].tolist() == list(range(2, 9))
    assert cols[:, 6].tolist() == list(range(3, 10))


def test_border_query_ignores_far_keys():
    """Changing a key/value outside every window of a query leaves it unchanged."""
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 16, 16, 1, 4, generator=gen) for _ in range(3))
    out = neighborhood_attention_2d(q, k, v, 7)
    k2, v2 = k.clone(), v.clone()
    k2[:, 7:, :], v2[:, 7:, :] = 5.0, -3.0   # rows 7.. are outside row 0's window 0..6
    out2 = neighborhood_attention_2d(q, k2, v2, 7)
    assert torch.equal(out[:, :4], out2[:, :4])   # rows 0..3 see rows 0..6 only
    assert not torch.allclose(out[:, 10:], out2[:, 10:])


class _MaxNumel(TorchDispatchMode):
    """Records the largest tensor produced by any aten op."""

    def __init__(self):
        super().__init__()
        self.max_numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.max_numel = max(self.max_numel, t.numel())
        return out


def test_memory_is_linear_in_tokens_64x64():
    """No N x N tensor: the largest intermediate is the N x k^2 weights (or
    an N x d map), forward and backward, on a 64 x 64 map."""
    b, h, w, nh, d, ks = 1, 64, 64, 2, 16, 7
    n = h * w
    q, k, v = (torch.randn(b, h, w, nh, d, requires_grad=True) for _ in range(3))
    with _MaxNumel() as mode:
        out = neighborhood_attention_2d(q, k, v, ks)
        out.sum().backward()
    assert out.shape == (b, h, w, nh, d)
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (q, k, v))
    bound = b * n * nh * max(ks * ks, d)
    assert mode.max_numel <= bound, (mode.max_numel, bound)
    assert mode.max_numel < n * n // 20   # a single N x N map has n * n


def test_rejects_even_kernel_and_bad_shapes():
    x = torch.randn(1, 8, 8, 1, 4)
    with pytest.raises(ValueError):
        neighborhood_attention_2d(x, x, x, 4)
    with pytest.raises(ValueError):
        neighborhood_attention_2d(x, x, x[:, :4], 3)


def test_natten_switch(monkeypatch):
    """natten is dispatched to only when importable, allowed and on GPU."""
    calls = []

    class _FakeFunctional:
        @staticmethod
        def na2d(q, k, v, kernel_size, scale):
            calls.append(kernel_size)
            return q

    class _FakeNatten:
        functional = _FakeFunctional

    monkeypatch.setattr(na_mod, 'natten', _FakeNatten)
    try:
        set_natten_enabled(True)
        assert na_mod.natten_available()
        x = torch.randn(1, 8, 8, 1, 4)
        neighborhood_attention_2d(x, x, x, 3)   # CPU tensors: pure PyTorch
        assert calls == []
        set_natten_enabled(False)
        assert not na_mod.natten_available()
    finally:
        set_natten_enabled(True)


@pytest.mark.parametrize('h, w, kernel_size', [
    (9, 11, 7), (7, 7, 7), (12, 5, 3), (4, 9, 7), (8, 8, 7), (1, 6, 3)])
def test_view_forward_matches_brute_force_and_gathers(h, w, kernel_size,
                                                      monkeypatch):
    """The view-based forward (large maps) gives the brute force's result and
    exactly the gather-based forward's bits, at every border case."""
    gen = torch.Generator().manual_seed(h * 31 + w)
    q, k, v = (torch.randn(2, h, w, 3, 8, generator=gen, dtype=torch.float64)
               for _ in range(3))
    rows, cols = neighborhood_index_maps(h, w, kernel_size)
    attn_g, out_g = na_mod._forward_by_gathers(q, k, v, rows, cols, 0.7)
    attn_v, out_v = na_mod._forward_by_views(q, k, v, rows.shape[0],
                                             cols.shape[0], 0.7)
    assert torch.equal(attn_v, attn_g) and torch.equal(out_v, out_g)
    monkeypatch.setattr(na_mod, '_VIEWS_MIN_TOKENS', 0)
    out = neighborhood_attention_2d(q, k, v, kernel_size, scale=0.7)
    assert (out - brute_force(q, k, v, kernel_size, 0.7)).abs().max() <= 1e-10
