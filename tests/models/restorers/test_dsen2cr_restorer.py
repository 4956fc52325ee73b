"""DSen2CRRestorer: CARL (Meraner et al. 2020, Eq. 2-3) in the official units, L1, ranges."""
import pytest
import torch

from crbench.models.restorers.dsen2cr import DSen2CRRestorer
from crbench.structures import CRDataSample

TINY = dict(type='DSen2CR', optical_channels=2, sar_channels=2, num_blocks=1, features=4)


def batch(mask=True):
    torch.manual_seed(0)
    inputs = {'cloudy': torch.rand(2, 2, 4, 4) * 2 - 1, 'sar': torch.rand(2, 2, 4, 4) * 2 - 1}
    samples = []
    for i in range(2):
        s = CRDataSample(gt=torch.rand(2, 4, 4) * 2 - 1)
        if mask:
            s.mask = (torch.rand(1, 4, 4) > 0.5).float()
        samples.append(s)
    return inputs, samples


def test_carl_matches_the_paper_formula_in_official_units():
    model = DSen2CRRestorer(TINY)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    # written out independently: optical [-1, 1] -> reflectance / 2000 in [0, 5]
    to5 = lambda x: (x + 1) * 2.5  # noqa: E731
    x, y = to5(inputs['cloudy']), to5(torch.stack([s.gt for s in samples]))
    p = model.generator(x, (inputs['sar'] + 1))           # SAR [-1, 1] -> [0, 2]
    m = torch.stack([s.mask for s in samples])
    n_tot = p.numel()
    carl_ca = (m * (p - y) + (1 - m) * (p - x)).abs().sum() / n_tot
    target = (p - y).abs().sum() / n_tot
    torch.testing.assert_close(losses['loss_cloud_adaptive'], carl_ca)
    torch.testing.assert_close(losses['loss_target'], target)
    sum(losses.values()).backward()
    assert model.generator.head.weight.grad is not None


def test_l1_and_restore_ranges():
    model = DSen2CRRestorer(TINY, loss='l1')
    inputs, samples = batch(mask=False)
    assert set(model.loss(inputs, samples)) == {'loss_l1'}
    torch.nn.init.zeros_(model.generator.tail.weight)
    torch.nn.init.zeros_(model.generator.tail.bias)
    # a zero residual returns the cloudy image, mapped back to [-1, 1]
    torch.testing.assert_close(model.restore(inputs), inputs['cloudy'])


def test_clear_errors():
    inputs, samples = batch(mask=False)
    with pytest.raises(KeyError, match='SentinelCloudShadowMask'):
        DSen2CRRestorer(TINY).loss(inputs, samples)
    with pytest.raises(KeyError, match='use_sar=False'):
        DSen2CRRestorer(TINY).restore({'cloudy': inputs['cloudy']})
    with pytest.raises(ValueError, match="'carl' or 'l1'"):
        DSen2CRRestorer(TINY, loss='l2')
