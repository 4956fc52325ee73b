"""crbench.analysis.profiling: parameters of the modules a call runs, latency, memory."""
import statistics
import time

import pytest
import torch
from torch import nn

from crbench.analysis.profiling import (count_params, measure, measure_latency,
                                        measure_peak_memory, record_called_modules)


def test_params_count_only_called_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Conv2d(2, 3, 3)
            self.unused = nn.Linear(100, 100)  # like a loss network or discriminator

        def forward(self, x):
            return self.used(x)

    net = Net()
    with record_called_modules(net) as called:
        net(torch.randn(1, 2, 8, 8))
    assert count_params(called) == 3 * 2 * 9 + 3


def test_latency_and_memory_of_a_call():
    conv = nn.Conv2d(2, 4, 3, padding=1)
    x = torch.randn(1, 2, 16, 16)
    calls = []

    def fn():
        calls.append(1)
        return conv(x)

    times = measure_latency(fn, 'cpu', repeats=3, warmup=2)
    assert len(times) == 3 and all(t > 0 for t in times) and len(calls) == 5
    # a call known to take 20 ms: the timer reports milliseconds of that one call
    slow = measure_latency(lambda: time.sleep(0.02), 'cpu', repeats=2, warmup=0)
    assert all(20 <= t < 20 + 500 for t in slow), slow
    # 64 MB that the call holds until it returns: the CPU peak must see it
    big = measure_peak_memory(lambda: torch.ones(2 ** 24).sum(), 'cpu')
    assert big[1].startswith('cpu')
    if 'VmHWM' in big[1]:
        assert big[0] >= 60 * 2 ** 20


def test_measure_fields():
    conv = nn.Conv2d(2, 4, 3, padding=1)
    x = torch.randn(1, 2, 8, 8)
    m = measure(lambda: conv(x), conv, 'cpu', repeats=2, warmup=0)
    assert m['params'] == 4 * 2 * 9 + 4
    assert m['macs'] == 4 * 8 * 8 * 2 * 9
    assert m['macs_paper_convention'] == m['macs']  # a plain conv: both conventions agree
    assert len(m['latency_ms_all']) == 2
    assert m['latency_ms'] == pytest.approx(statistics.median(m['latency_ms_all']))
