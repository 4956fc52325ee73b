"""crbench.models.reference.layers: blocks shared by several reference networks."""
import torch
import torch.nn.functional as F

from crbench.models.diffusion.networks import diffcr_nafnet
from crbench.models.reference import cvae, memorynet, msda_cr, pmaa
from crbench.models.reference.layers import ChannelAttention, ChannelLayerNorm


def test_channel_attention_is_defined_once():
    for module in (cvae, memorynet, msda_cr):
        assert module.ChannelAttention is ChannelAttention
    net = memorynet.MemoryNet(in_channels=4, n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4,
                              num_cab=1)
    gen = msda_cr.MSDACRGenerator()
    used = {type(m) for net_ in (net, gen) for m in net_.modules()
            if type(m).__name__ == 'ChannelAttention'}
    assert used == {ChannelAttention}


def test_channel_attention_keys_and_formula():
    torch.manual_seed(0)
    ca = ChannelAttention(8, reduction=4)
    assert list(ca.state_dict()) == ['down.weight', 'down.bias', 'up.weight', 'up.bias']
    assert list(ChannelAttention(8, 2, False).state_dict()) == ['down.weight', 'up.weight']
    x = torch.randn(2, 8, 5, 7)
    mean = x.mean(dim=(2, 3))  # B x C
    hidden = F.relu(mean @ ca.down.weight[:, :, 0, 0].T + ca.down.bias)
    gate = torch.sigmoid(hidden @ ca.up.weight[:, :, 0, 0].T + ca.up.bias)
    torch.testing.assert_close(ca(x), x * gate[:, :, None, None])


def test_channel_layer_norm_is_torch_layer_norm_over_channels():
    assert diffcr_nafnet.ChannelLayerNorm is ChannelLayerNorm is pmaa.ChannelLayerNorm
    torch.manual_seed(0)
    norm = ChannelLayerNorm(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = 3 + 2 * torch.randn(2, 6, 5, 7)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (6, ), norm.weight, norm.bias, eps=1e-6)
    torch.testing.assert_close(norm(x), expected.permute(0, 3, 1, 2))
    assert list(norm.state_dict()) == ['weight', 'bias']
