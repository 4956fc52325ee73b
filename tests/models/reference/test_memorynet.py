import pytest
import torch

from crbench.models.losses import CharbonnierLoss, LaplacianEdgeLoss
from crbench.models.reference.memorynet import MemoryNet
from crbench.registry import MODELS

from helpers import n_params

# Official counts (docs/models.md §0): the collection's MPRNet built on CPU.
OFFICIAL_PARAMS = {4: 3_638_993, 3: 3_637_249}


@pytest.mark.parametrize('bands', [4, 3])
def test_param_count_matches_official(bands):
    with torch.device('meta'):
        net = MemoryNet(in_channels=bands)
    assert n_params(net) == OFFICIAL_PARAMS[bands]


def test_single_shared_prelu():
    with torch.device('meta'):
        net = MemoryNet()
    prelus = {id(m) for m in net.modules() if isinstance(m, torch.nn.PReLU)}
    assert len(prelus) == 1
    assert net.act.weight.numel() == 1


def test_registered():
    assert MODELS.get('MemoryNet') is MemoryNet
    net = MODELS.build(dict(type='MemoryNet', in_channels=3, n_feat=8, scale_unetfeats=4,
                            scale_orsnetfeats=4, num_cab=1))
    assert isinstance(net, MemoryNet) and net.in_channels == 3


def test_forward_shapes():
    torch.manual_seed(0)
    net = MemoryNet(in_channels=4)
    x = torch.rand(1, 4, 64, 64) * 2 - 1
    with torch.no_grad():
        out = net(x)
    assert isinstance(out, list) and len(out) == 3
    for img in out:
        assert img.shape == (1, 4, 64, 64)
        assert torch.isfinite(img).all()
    # three different stage images, not one tensor repeated
    assert not torch.equal(out[0], out[1]) and not torch.equal(out[1], out[2])


def test_stage1_top_half_ignores_bottom_half():
    # Multi-patch hierarchy: stage 1 processes top and bottom halves apart,
    # so its top-half image cannot depend on the bottom half of the input;
    # stage 3 sees the whole image and must.
    torch.manual_seed(0)
    net = MemoryNet(in_channels=4, n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)
    x = torch.rand(1, 4, 16, 16)
    y = x.clone()
    y[..., 8:, :] = torch.rand(1, 4, 8, 16)
    with torch.no_grad():
        a, b = net(x), net(y)
    assert torch.equal(a[2][..., :8, :], b[2][..., :8, :])
    assert not torch.allclose(a[0][..., :8, :], b[0][..., :8, :])


@pytest.mark.parametrize('shape', [(1, 4, 60, 64), (1, 4, 64, 36), (1, 4, 12, 12)])
def test_size_not_divisible_by_8(shape):
    net = MemoryNet(in_channels=4, n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)
    with pytest.raises(ValueError, match='divisible by 8'):
        net(torch.zeros(shape))


def test_bad_bands_and_out_channels():
    with pytest.raises(ValueError, match='out_channels must equal in_channels'):
        MemoryNet(in_channels=4, out_channels=3)
    net = MemoryNet(in_channels=4, n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)
    with pytest.raises(ValueError, match='built for 4 bands'):
        net(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match='B×C×H×W'):
        net(torch.zeros(4, 16, 16))


def test_every_parameter_gets_a_gradient():
    # MemoryNet has no dead parameters (docs/models.md §0): the official training
    # loss (Charbonnier + 0.05 x edge over the three stages) must reach all.
    torch.manual_seed(0)
    net = MemoryNet(in_channels=4)
    x = torch.rand(1, 4, 16, 16)
    gt = torch.rand(1, 4, 16, 16)
    char, edge = CharbonnierLoss(), LaplacianEdgeLoss()
    out = net(x)
    loss = sum(char(o, gt) for o in out) + 0.05 * sum(edge(o, gt) for o in out)
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, missing
    zero = [n for n, p in net.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero, zero
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_final_stage_alone_depends_on_every_parameter():
    # Every earlier stage feeds stage 3 (SAM features, cross-stage fusion),
    # so a loss on the final image alone is connected to every parameter.
    # (Only None is checked: in this tiny width the 2-unit channel-attention
    # ReLU can be inactive, which zeroes a gradient without disconnecting it.)
    torch.manual_seed(1)
    net = MemoryNet(in_channels=3, n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=2)
    net(torch.rand(2, 3, 16, 24))[0].square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, missing
