import pytest
import torch
import torch.nn.functional as F

from crbench.models.losses import CharbonnierLoss, LaplacianEdgeLoss
from crbench.registry import MODELS


def test_registered():
    assert MODELS.get('CharbonnierLoss') is CharbonnierLoss
    assert MODELS.get('LaplacianEdgeLoss') is LaplacianEdgeLoss
    assert MODELS.build(dict(type='CharbonnierLoss', eps=1e-2)).eps == 1e-2


@pytest.mark.parametrize('eps', [1e-3, 0.1])
def test_charbonnier_formula(eps):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 4, 7, 9, generator=g, dtype=torch.float64)
    b = torch.randn(2, 4, 7, 9, generator=g, dtype=torch.float64)
    expected = sum(((x - y) ** 2 + eps ** 2) ** 0.5
                   for x, y in zip(a.flatten().tolist(), b.flatten().tolist())) / a.numel()
    assert CharbonnierLoss(eps)(a, b).item() == pytest.approx(expected, rel=1e-12)
    # identical inputs: the floor eps, with a zero (not NaN) gradient
    a.requires_grad_(True)
    loss = CharbonnierLoss(eps)(a, a.detach())
    loss.backward()
    assert loss.item() == pytest.approx(eps)
    assert torch.equal(a.grad, torch.zeros_like(a))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='same shape'):
        CharbonnierLoss()(torch.zeros(1, 3, 8, 8), torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match='same shape'):
        LaplacianEdgeLoss()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match='B×C×H×W'):
        LaplacianEdgeLoss()(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))


def official_style_edge_loss(x, y, eps=1e-3):
    """Straightforward 3-channel recomputation: fixed grouped conv, 3 groups."""
    k = torch.tensor([[.05, .25, .4, .25, .05]], dtype=x.dtype)
    kernel = (k.t() @ k).unsqueeze(0).repeat(3, 1, 1, 1)

    def gauss(img):
        return F.conv2d(F.pad(img, (2, 2, 2, 2), mode='replicate'), kernel, groups=3)

    def lap(img):
        f = gauss(img)
        up = torch.zeros_like(f)
        up[:, :, ::2, ::2] = f[:, :, ::2, ::2] * 4
        return img - gauss(up)

    d = lap(x) - lap(y)
    return torch.sqrt(d * d + eps * eps).mean()


@pytest.mark.parametrize('size', [(16, 16), (17, 10)])
def test_edge_equals_three_channel_recomputation(size):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, *size, generator=g)
    y = torch.rand(2, 3, *size, generator=g)
    ours = LaplacianEdgeLoss()(x, y)
    ref = official_style_edge_loss(x, y)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('bands', [1, 3, 4, 13])
def test_edge_any_band_count(bands):
    g = torch.Generator().manual_seed(bands)
    x = torch.rand(2, bands, 12, 14, generator=g, requires_grad=True)
    y = torch.rand(2, bands, 12, 14, generator=g)
    loss_fn = LaplacianEdgeLoss()
    same = loss_fn(y, y)
    # identical images: zero Laplacian difference, i.e. exactly the Charbonnier floor eps
    assert same.item() == pytest.approx(1e-3, rel=1e-6)
    loss = loss_fn(x, y)
    assert torch.isfinite(loss) and loss.item() > 1e-2
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # generalisation: C bands = mean of the single-band losses
    per_band = torch.stack([loss_fn(x[:, c:c + 1], y[:, c:c + 1]) for c in range(bands)])
    torch.testing.assert_close(loss, per_band.mean(), rtol=1e-5, atol=1e-7)


def test_edge_band_permutation_invariance():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 13, 16, 16, generator=g)
    y = torch.rand(2, 13, 16, 16, generator=g)
    perm = torch.randperm(13, generator=g)
    loss_fn = LaplacianEdgeLoss()
    torch.testing.assert_close(loss_fn(x, y), loss_fn(x[:, perm], y[:, perm]), rtol=1e-6, atol=1e-7)


def test_edge_loss_sees_edges_not_offsets():
    # A fine checkerboard is almost all Laplacian residual; a constant shift
    # only leaks at the replicate-padded border.
    x = torch.rand(1, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 0.2 - 0.1
    loss_fn = LaplacianEdgeLoss()
    assert loss_fn(x + checker, x) > 5 * loss_fn(x + 0.1, x)
    # whereas the pixel loss cannot tell them apart
    char = CharbonnierLoss()
    assert char(x + checker, x).item() == pytest.approx(char(x + 0.1, x).item(), rel=1e-3)


def test_edge_kernel_cache_per_channels_and_dtype():
    loss_fn = LaplacianEdgeLoss()
    x32 = torch.rand(1, 3, 8, 8)
    x64 = torch.rand(1, 4, 8, 8, dtype=torch.float64)
    assert loss_fn(x32, x32.flip(-1)).dtype == torch.float32
    assert loss_fn(x64, x64.flip(-1)).dtype == torch.float64
    loss_fn(x32, x32)
    assert sorted((c, d) for c, _, d in loss_fn._kernels) == [(3, torch.float32), (4, torch.float64)]
    k = loss_fn._kernels[(4, x64.device, torch.float64)]
    assert k.shape == (4, 1, 5, 5) and k.sum(dim=(1, 2, 3)).allclose(torch.ones(4, dtype=torch.float64))
