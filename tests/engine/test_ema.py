"""WarmupEMA (crbench/engine/ema.py): LitEma's warm-up decay, for MMEngine's EMAHook.

The Runner-level test (EMAHook with ema_type='WarmupEMA', validation on the EMA
weights) is test_runner_trains_tiny_emrdm_and_evaluates_with_ema in
tests/models/diffusion/test_emrdm.py.
"""
import pytest
import torch
from torch import nn

from crbench.engine.ema import WarmupEMA
from crbench.registry import MODELS


def test_warmup_ema_follows_litema_formula():
    torch.manual_seed(3)
    net = nn.Linear(3, 2)
    ema = WarmupEMA(net, decay=0.9999)
    expected = [p.detach().clone() for p in net.parameters()]
    for n in range(1, 8):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        ema.update_parameters(net)
        d = min(0.9999, (1 + n) / (10 + n))
        assert ema.decay_at(n) == pytest.approx(d)
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, net.parameters())]
    for e, p in zip(expected, ema.module.parameters()):
        assert torch.allclose(e, p, atol=1e-6)
    assert ema.decay_at(10 ** 6) == 0.9999 and int(ema.steps) == 7


def test_registered_for_emahook_and_checks_decay():
    ema = MODELS.build(dict(type='WarmupEMA', model=nn.Linear(2, 2), decay=0.99))
    assert isinstance(ema, WarmupEMA) and ema.decay_at(1) == pytest.approx(2 / 11)
    assert WarmupEMA(nn.Linear(2, 2), decay=0.5, warmup=False).decay_at(1) == 0.5
    with pytest.raises(ValueError, match='decay'):
        WarmupEMA(nn.Linear(2, 2), decay=1.0)
