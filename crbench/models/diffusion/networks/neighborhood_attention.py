"""2-D neighbourhood attention (NA) without natten.

HDiT (Crowson et al. 2024, docs/models.md §3.3) uses neighbourhood attention at its
high-resolution levels: every query token attends to the ``k x k`` block of
keys around it. Following natten's definition (dilation 1, odd ``k``), the
window along each axis starts at ``i - k // 2`` and is shifted back inside the
map near the borders, so every query sees exactly ``k`` keys per axis:

    start(i) = clamp(i - k // 2, 0, L - k)

Two back ends compute it:

* natten (``natten.functional.na2d``), used when natten imports, the global
  switch allows it (:func:`set_natten_enabled`) and the tensors live on a GPU;
* a pure-PyTorch kernel (:class:`_NeighborhoodAttention2d`) that runs
  anywhere, including backward on CPU.

The pure-PyTorch kernel never builds an ``N x N`` matrix and never stores the
``N x k^2 x d`` gathered keys either. The neighbourhood of a query is a
Cartesian product (row window x column window), so for a fixed offset
``(a, b)`` inside the window the keys of all queries form one re-indexed copy
of the key map: ``K[rows[a]][:, cols[b]]`` with per-axis index maps
``rows[a] = start_h + a`` and ``cols[b] = start_w + b``. The kernel loops over
the ``k^2`` offsets, so its working memory is the ``N x k^2`` logits plus one
``N x d`` map at a time. Its backward is written out by hand (re-gathering
keys/values and scattering the gradients back with ``index_add_``), which is
what keeps autograd from saving ``k^2`` gathered copies.

Maps smaller than the kernel along an axis are accepted: the window is then
the whole axis (natten itself rejects such inputs; the result for maps at
least ``k`` wide is identical).
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

try:  # optional fused kernels; never required
    import natten  # type: ignore
except ImportError:  # pragma: no cover - natten is not installed in CI
    natten = None

_NATTEN_ENABLED = True


def set_natten_enabled(enabled: bool) -> None:
    """Globally allow (default) or forbid dispatching to natten."""
    global _NATTEN_ENABLED
    _NATTEN_ENABLED = bool(enabled)


def natten_available() -> bool:
    """Whether natten could be used at all (importable and allowed)."""
    return natten is not None and _NATTEN_ENABLED


def window_starts(length: int, kernel_size: int,
                  device: Optional[torch.device] = None) -> Tuple[Tensor, int]:
    """First key index of every query's window along one axis, and the
    effective window length ``min(kernel_size, length)``."""
    k = min(kernel_size, length)
    idx = torch.arange(length, device=device)
    return (idx - k // 2).clamp(0, length - k), k


def neighborhood_index_maps(height: int, width: int, kernel_size: int,
                            device: Optional[torch.device] = None
                            ) -> Tuple[Tensor, Tensor]:
    """Per-offset index maps ``rows [kh, H]`` and ``cols [kw, W]``.

    The key of query ``(i, j)`` at window offset ``(a, b)`` is
    ``(rows[a, i], cols[b, j])``.
    """
    start_h, kh = window_starts(height, kernel_size, device)
    start_w, kw = window_starts(width, kernel_size, device)
    rows = start_h[None, :] + torch.arange(kh, device=device)[:, None]
    cols = start_w[None, :] + torch.arange(kw, device=device)[:, None]
    return rows, cols


class _NeighborhoodAttention2d(torch.autograd.Function):
    """softmax(scale * q.k) v over each query's neighbourhood.

    Layout: q, k, v ``[B, H, W, heads, d]`` (natten's ``na2d`` layout).
    Saved for backward: q, k, v and the ``[B, H, W, heads, k^2]`` weights.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, rows: Tensor,
                cols: Tensor, scale: float) -> Tensor:
        if q.shape[1] * q.shape[2] >= _VIEWS_MIN_TOKENS:
            attn, out = _forward_by_views(q, k, v, rows.shape[0],
                                          cols.shape[0], scale)
        else:
            attn, out = _forward_by_gathers(q, k, v, rows, cols, scale)
        ctx.save_for_backward(q, k, v, attn, rows, cols)
        ctx.scale = scale
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k, v, attn, rows, cols = ctx.saved_tensors
        scale = ctx.scale
        kh, kw = rows.shape[0], cols.shape[0]
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        grad_out = grad_out.contiguous()

        # dL/dv: each weighted value term scatters back to its key position.
        grad_v = None
        if need_v:
            grad_v = torch.zeros_like(v)
            for a in range(kh):
                acc = torch.zeros_like(v)
                for b in range(kw):
                    acc.index_add_(2, cols[b], attn[..., a * kw + b, None] * grad_out)
                grad_v.index_add_(1, rows[a], acc)

        grad_q = grad_k = None
        if need_q or need_k:
            # dL/dattn, then through the softmax to dL/dlogits.
            grad_attn = torch.empty_like(attn)
            for a in range(kh):
                v_rows = v.index_select(1, rows[a])
                for b in range(kw):
                    torch.sum(grad_out * v_rows.index_select(2, cols[b]), dim=-1,
                              out=grad_attn[..., a * kw + b])
            grad_logits = attn * (grad_attn - (attn * grad_attn).sum(-1, keepdim=True))
            grad_logits.mul_(scale)
            del grad_attn
            if need_q:
                grad_q = torch.zeros_like(q)
            if need_k:
                grad_k = torch.zeros_like(k)
            for a in range(kh):
                k_rows = k.index_select(1, rows[a]) if need_q else None
                acc = torch.zeros_like(k) if need_k else None
                for b in range(kw):
                    g = grad_logits[..., a * kw + b, None]
                    if need_q:
                        grad_q.addcmul_(g, k_rows.index_select(2, cols[b]))
                    if need_k:
                        acc.index_add_(2, cols[b], g * q)
                if need_k:
                    grad_k.index_add_(1, rows[a], acc)
        return grad_q, grad_k, grad_v, None, None, None



# Maps of at least this many tokens use the view-based forward (2–8× faster at
# 64² to 256² tokens); smaller ones the gathers, which have fewer calls.
_VIEWS_MIN_TOKENS = 2048


def _forward_by_gathers(q: Tensor, k: Tensor, v: Tensor, rows: Tensor,
                        cols: Tensor, scale: float) -> Tuple[Tensor, Tensor]:
    """Attention weights and output, one gathered key/value map per offset."""
    kh, kw = rows.shape[0], cols.shape[0]
    logits = q.new_empty(*q.shape[:-1], kh * kw)
    for a in range(kh):
        k_rows = k.index_select(1, rows[a])
        for b in range(kw):
            k_ab = k_rows.index_select(2, cols[b])
            torch.sum(q * k_ab, dim=-1, out=logits[..., a * kw + b])
    logits.mul_(scale)
    attn = torch.softmax(logits, dim=-1)
    del logits
    out = torch.zeros_like(q)
    for a in range(kh):
        v_rows = v.index_select(1, rows[a])
        for b in range(kw):
            out.addcmul_(attn[..., a * kw + b, None],
                         v_rows.index_select(2, cols[b]))
    return attn, out


def axis_segments(length: int, kernel_size: int
                  ) -> Tuple[List[Tuple[int, int, int, bool]], int]:
    """Split an axis into runs of queries whose windows move alike.

    Returns ``[(first, end, first_key, moving)]`` and the window length.
    Queries ``first … end−1`` of a run have the window starting at
    ``first_key`` for all of them (``moving=False``: the clamped borders) or
    at ``first_key + (i − first)`` (``moving=True``: the interior).
    """
    if length <= kernel_size:
        return [(0, length, 0, False)], length
    r = kernel_size // 2
    runs = [(0, r, 0, False), (r, length - r, 0, True),
            (length - r, length, length - kernel_size, False)]
    return [run for run in runs if run[1] > run[0]], kernel_size


def _keys_of_run(x: Tensor, dim: int, run: Tuple[int, int, int, bool],
                 offset: int) -> Tensor:
    """View of the keys at window ``offset`` for the queries of ``run``: a
    slice for a moving window, one broadcast row/column for a fixed one."""
    first, end, first_key, moving = run
    return x.narrow(dim, first_key + offset, end - first if moving else 1)


def _forward_by_views(q: Tensor, k: Tensor, v: Tensor, kh: int, kw: int,
                      scale: float) -> Tuple[Tensor, Tensor]:
    """The same attention from views of k and v, no copies.

    Within one run of rows × one run of columns (interior or border), the
    keys at a window offset are a slice of the key map or one broadcast
    row/column, so the products read k and v in place. Same products and
    sums as :func:`_forward_by_gathers`: bit-identical results.
    """
    runs_h, _ = axis_segments(q.shape[1], kh)
    runs_w, _ = axis_segments(q.shape[2], kw)
    regions = [(rh, rw) for rh in runs_h for rw in runs_w]
    logits = q.new_empty(*q.shape[:-1], kh * kw)
    for rh, rw in regions:
        q_reg = q[:, rh[0]:rh[1], rw[0]:rw[1]]
        l_reg = logits[:, rh[0]:rh[1], rw[0]:rw[1]]
        for a in range(kh):
            k_rows = _keys_of_run(k, 1, rh, a)
            for b in range(kw):
                torch.sum(q_reg * _keys_of_run(k_rows, 2, rw, b), dim=-1,
                          out=l_reg[..., a * kw + b])
    logits.mul_(scale)
    attn = torch.softmax(logits, dim=-1)
    del logits
    out = torch.zeros_like(q)
    for rh, rw in regions:
        o_reg = out[:, rh[0]:rh[1], rw[0]:rw[1]]
        a_reg = attn[:, rh[0]:rh[1], rw[0]:rw[1]]
        for a in range(kh):
            v_rows = _keys_of_run(v, 1, rh, a)
            for b in range(kw):
                o_reg.addcmul_(a_reg[..., a * kw + b, None],
                               _keys_of_run(v_rows, 2, rw, b))
    return attn, out


def _natten_na2d(q: Tensor, k: Tensor, v: Tensor, kernel_size: int,
                 scale: float) -> Tensor:
    """natten call for the ``[B, H, W, heads, d]`` layout."""
    functional = natten.functional
    if hasattr(functional, 'na2d'):
        return functional.na2d(q, k, v, kernel_size=kernel_size, scale=scale)
    # natten < 0.17: unfused ops in the heads-first layout
    q, k, v = (t.permute(0, 3, 1, 2, 4) for t in (q, k, v))
    logits = functional.na2d_qk(q * scale, k, kernel_size)
    attn = torch.softmax(logits, dim=-1).to(v.dtype)
    return functional.na2d_av(attn, v, kernel_size).permute(0, 2, 3, 1, 4)


def neighborhood_attention_2d(q: Tensor, k: Tensor, v: Tensor, kernel_size: int,
                              scale: float = 1.0,
                              use_natten: Optional[bool] = None) -> Tensor:
    """2-D neighbourhood attention.

    Args:
        q, k, v: ``[B, H, W, heads, d]``.
        kernel_size: odd window size ``k`` (dilation 1).
        scale: multiplier of ``q.k`` before the softmax (HDiT uses 1 since its
            q and k are already cosine-normalised and scaled).
        use_natten: ``None`` follows the global switch; ``False`` forces the
            pure-PyTorch kernel. natten is only tried for CUDA tensors and maps
            at least ``kernel_size`` wide.

    Returns:
        ``[B, H, W, heads, d]``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f'kernel_size must be odd, got {kernel_size}')
    if q.dim() != 5 or q.shape != k.shape or k.shape != v.shape:
        raise ValueError('q, k, v must share the shape [B, H, W, heads, d]; got '
                         f'{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}')
    height, width = q.shape[1], q.shape[2]
    allow = natten_available() if use_natten is None else (use_natten and natten is not None)
    if allow and q.is_cuda and min(height, width) >= kernel_size:
        return _natten_na2d(q, k, v, kernel_size, scale)
    rows, cols = neighborhood_index_maps(height, width, kernel_size, q.device)
    return _NeighborhoodAttention2d.apply(q.contiguous(), k.contiguous(),
                                          v.contiguous(), rows, cols, float(scale))
