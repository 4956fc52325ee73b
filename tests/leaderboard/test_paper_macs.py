"""The papers' MAC convention (thop's ``profile``), reimplemented without thop.

EMRDM Table 6(b) prints, for CUHK-CR at 1x4x256x256, MemoryNet 548.65 G and
MSDA-CR 53.45 G MACs, counted with thop. ``count_macs_thop_convention`` gives,
for crbench's generators (values checked against thop 0.1.1 itself, which
crbench does not depend on):

* MemoryNet: 563.24 G (+2.7 %). 141.10 G are convolutions (= FlopCounterMode);
  the other 422.1 G are the single PReLU, registered in all 56 CABs, hooked 56
  times by thop and summed once per parent: 56^2 x 0.1346 G. With the PReLU
  counted once (``shared_modules='once'``): 141.23 G, FlopCounterMode + the
  PReLU's 0.13 G elementwise ops.
* MSDA-CR generator: 53.24 G (-0.4 %). thop counts only convolutions and
  linear layers here, but a transposed convolution as output size x input
  channels x kernel, 4x its real MACs at stride 2 (4.83 G instead of 1.21 G):
  hence 53.24 G against FlopCounterMode's 49.62 G.

The remaining gaps to the printed numbers (a few tenths of a G for MSDA-CR,
~15 G for MemoryNet) come from the official implementations differing in
details from crbench's builds (and possibly the thop version), not from the
counting rules.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from crbench.leaderboard.benchmark import (count_macs, count_macs_thop_convention,
                                           thop_convention_counts)

PAPER_MACS_G = {'memorynet': 548.65, 'msda_cr': 53.45}  # EMRDM Table 6(b), CUHK-CR


@pytest.fixture(scope='module')
def x256():
    return torch.rand(1, 4, 256, 256, generator=torch.Generator().manual_seed(0))


def test_memorynet_paper_convention(x256):
    from crbench.models.reference.memorynet import MemoryNet
    torch.manual_seed(0)
    net = MemoryNet(in_channels=4, n_feat=40, scale_unetfeats=20, scale_orsnetfeats=16,
                    num_cab=8).eval()
    c = thop_convention_counts(net, x256)
    exact, _, _ = count_macs(net, x256)
    print(f"MemoryNet: paper convention {c['per_parent'] / 1e9:.2f} G, shared once "
          f"{c['once'] / 1e9:.2f} G, FlopCounterMode {exact / 1e9:.2f} G, "
          f"paper {PAPER_MACS_G['memorynet']} G")
    assert c['per_parent'] == pytest.approx(PAPER_MACS_G['memorynet'] * 1e9, rel=0.03)
    assert c['once'] == pytest.approx(exact, rel=0.01)
    # the over-count is exactly the shared PReLU, 56 registrations squared
    assert c['by_type']['Conv2d'] == exact
    assert c['per_parent'] - exact == 56 ** 2 * c['by_type']['PReLU']


def test_msda_cr_paper_convention(x256):
    from crbench.models.reference.msda_cr import MSDACRGenerator
    torch.manual_seed(0)
    net = MSDACRGenerator(in_channels=4).eval()
    c = thop_convention_counts(net, x256)
    got, once = c['per_parent'], c['once']
    print(f'MSDA-CR G: paper convention {got / 1e9:.2f} G, paper {PAPER_MACS_G["msda_cr"]} G')
    assert got == pytest.approx(PAPER_MACS_G['msda_cr'] * 1e9, rel=0.03)
    assert once == got  # nothing shared


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        act = nn.PReLU()
        self.a = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=True), act)
        self.b = nn.Sequential(act, nn.ConvTranspose2d(3, 2, 2, stride=2))
        self.act = act

    def forward(self, x):
        return self.b(self.a(x))


def test_rules_and_shared_modules_small():
    net = _Shared()
    x = torch.randn(1, 2, 4, 5)
    conv = 3 * 4 * 5 * 2 * 9  # bias not counted
    prelu = 2 * (3 * 4 * 5)  # called twice (eval mode)
    tconv = 2 * 8 * 10 * 3 * 4  # output size x input channels x kernel
    assert count_macs_thop_convention(net, x, shared_modules='once') == conv + prelu + tconv
    # the PReLU is registered under 3 parents: 3 hooks, summed 3 times
    assert count_macs_thop_convention(net, x) == conv + 9 * prelu + tconv
    assert net.training  # mode restored
    assert not net.act._forward_hooks  # hooks removed
    with pytest.raises(ValueError):
        count_macs_thop_convention(net, x, shared_modules='twice')


@pytest.mark.parametrize('module, shape, expected', [
    (nn.Linear(6, 4), (3, 6), 3 * 4 * 6),
    (nn.BatchNorm2d(3), (2, 3, 4, 4), 4 * 96),
    (nn.InstanceNorm2d(3), (2, 3, 4, 4), 2 * 96),
    (nn.LayerNorm(8), (2, 8), 4 * 16),
    (nn.GroupNorm(1, 3), (1, 3, 4, 4), 0),
    (nn.ReLU(), (1, 3, 4, 4), 0),
    (nn.LeakyReLU(0.2), (1, 3, 4, 4), 0),
    (nn.Sigmoid(), (1, 3, 4, 4), 0),
    (nn.Softmax(dim=-1), (2, 5), 2 * (3 * 5 - 1)),
    (nn.AvgPool2d(2), (1, 3, 4, 4), 12),
    (nn.AdaptiveAvgPool2d(1), (1, 3, 4, 4), 3 * 17),
    (nn.MaxPool2d(2), (1, 3, 4, 4), 0),
    (nn.Upsample(scale_factor=2, mode='bilinear'), (1, 3, 4, 4), 11 * 192),
    (nn.Upsample(scale_factor=2, mode='nearest'), (1, 3, 4, 4), 192),
])
def test_rule_table(module, shape, expected):
    assert count_macs_thop_convention(module, torch.randn(*shape)) == expected


def test_efficiency_table_shows_both_counts():
    from crbench.leaderboard.render import SHARED_FOOTNOTE, _efficiency_md, efficiency_rows
    rec = {'model': 'memorynet', 'config': 'configs/memorynet/memorynet_cuhkcr2.py',
           'dataset': 'CUHK-CR2', 'input_shapes': {'cloudy': [1, 4, 256, 256]},
           'device': 'cpu', 'params': 3638993, 'macs': 141096541992, 'latency_ms': 1.0,
           'macs_G_paper_convention': 563.236462376,
           'macs_G_paper_convention_shared_once': 141.231152936}
    rows = efficiency_rows(None, [rec])
    cells, values = rows[0]['cells'], rows[0]['values']
    assert cells['MACs (G)'] == '141.10'
    assert cells['MACs, paper convention (G)'] == '563.24 †'
    assert values['MACs, paper convention (G)'] == 563.24
    assert 'counted once: 141.23 G' in cells['Notes']
    assert SHARED_FOOTNOTE in '\n'.join(_efficiency_md(rows, 'efficiency/'))
    # older JSONs without the field, and nothing shared: no mark, no footnote
    del rec['macs_G_paper_convention']
    rows = efficiency_rows(None, [rec])
    assert SHARED_FOOTNOTE not in '\n'.join(_efficiency_md(rows, 'efficiency/'))
