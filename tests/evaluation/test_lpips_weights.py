"""Offline LPIPS: weight lookup, backbone loading, random-backbone key."""
import warnings
from pathlib import Path

import lpips
import pytest
import torch
import torchvision

from crbench.evaluation import (ALEXNET_ENV_VAR, ALEXNET_FILENAME, CRMetric,
                                LPIPSUnavailableError, build_lpips,
                                find_alexnet_weights, get_protocol)
from crbench.evaluation import metric as metric_module
from crbench.evaluation.metric import RANDOM_LPIPS_KEY


@pytest.fixture(scope='module')
def alexnet_file(tmp_path_factory):
    """A random torchvision AlexNet saved like torchvision's checkpoint.

    The 230 MB classifier is replaced by one small tensor to keep the test
    light; it still checks that ``classifier.*`` keys are ignored.
    """
    torch.manual_seed(123)
    net = torchvision.models.alexnet(weights=None)
    path = tmp_path_factory.mktemp('alex') / ALEXNET_FILENAME
    state = {k: v for k, v in net.state_dict().items()
             if k.startswith('features.')}
    state['classifier.1.weight'] = torch.zeros(4, 4)
    torch.save(state, path)
    return path, net


@pytest.fixture(scope='module')
def reference(alexnet_file):
    """lpips' own construction, with its torchvision AlexNet replaced by the
    saved network: lpips slices the features itself (independent mapping)."""
    _, tv_net = alexnet_file
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setattr(lpips.pretrained_networks.tv, 'alexnet',
                   lambda *a, **k: tv_net)
        warnings.simplefilter('ignore')
        return lpips.LPIPS(net='alex', pretrained=True, pnet_rand=False,
                           verbose=False).eval()


def _pair(seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    return a, (a + 0.3 * torch.randn(2, 3, 64, 64, generator=g)).clamp(-1, 1)


def test_missing_weights_error_names_file_and_places(no_weights):
    with pytest.raises(LPIPSUnavailableError) as err:
        find_alexnet_weights()
    msg = str(err.value)
    assert ALEXNET_FILENAME in msg and ALEXNET_ENV_VAR in msg
    assert str(no_weights / 'checkpoints' / ALEXNET_FILENAME) in msg
    assert 'AlexNet' in msg and 'torchvision' in msg
    with pytest.raises(LPIPSUnavailableError):
        build_lpips()


def test_explicit_missing_path_is_named(no_weights, tmp_path):
    bad = tmp_path / 'nowhere' / ALEXNET_FILENAME
    with pytest.raises(LPIPSUnavailableError, match='nowhere'):
        build_lpips(str(bad))


def test_random_backbone_only_when_asked(no_weights):
    model = build_lpips(allow_random_backbone=True)
    assert model.random_backbone is True
    assert not any(p.requires_grad for p in model.parameters())


def test_weight_lookup_order(alexnet_file, no_weights, monkeypatch, tmp_path):
    """explicit argument > env CRBENCH_ALEXNET_WEIGHTS > torch hub cache."""
    path, _ = alexnet_file
    hub_file = Path(no_weights) / 'checkpoints' / ALEXNET_FILENAME
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(path.read_bytes())
    assert find_alexnet_weights() == hub_file
    monkeypatch.setenv(ALEXNET_ENV_VAR, str(path))
    assert find_alexnet_weights() == path
    other = tmp_path / 'other.pth'
    other.write_bytes(path.read_bytes())
    assert find_alexnet_weights(str(other)) == other


def test_backbone_loaded_from_file_equals_lpips(alexnet_file, reference,
                                                no_weights):
    path, _ = alexnet_file
    model = build_lpips(str(path))
    assert model.random_backbone is False
    for k, v in reference.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    a, b = _pair()
    with torch.no_grad():
        torch.testing.assert_close(model(a, b), reference(a, b), rtol=0,
                                   atol=1e-6)


def test_wrong_file_content_is_rejected(tmp_path, no_weights):
    bad = tmp_path / ALEXNET_FILENAME
    torch.save({'conv.weight': torch.zeros(1)}, bad)
    with pytest.raises(KeyError, match='features.0.weight'):
        build_lpips(str(bad))


def _samples(n=2, bands=3):
    a, b = _pair(1)
    return [{'pred': a[i], 'gt': b[i], 'sample_id': f's{i}'}
            for i in range(n)]


def test_crmetric_never_reports_random_lpips_as_lpips(no_weights):
    metric = CRMetric(protocol='sen2mtc_official', allow_random_lpips=True)
    metric.process({}, _samples())
    res = metric.compute_metrics(metric.results)
    assert 'LPIPS' not in res and RANDOM_LPIPS_KEY in res
    assert metric.unavailable == ['LPIPS']
    assert all('LPIPS' not in row for row in metric.results)


def test_crmetric_omits_lpips_and_warns_once(no_weights, monkeypatch):
    logged = []
    monkeypatch.setattr(metric_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    metric = CRMetric(protocol='cuhk_official')
    for _ in range(3):
        metric.process({}, _samples())
    res = metric.compute_metrics(metric.results)
    assert 'LPIPS' not in res and RANDOM_LPIPS_KEY not in res
    assert metric.unavailable == ['LPIPS']
    assert len(logged) == 1 and ALEXNET_FILENAME in logged[0]
    assert metric._lpips_model is None  # nothing built


def test_crmetric_reports_real_lpips_with_weights(alexnet_file, reference,
                                                 no_weights):
    path, _ = alexnet_file
    metric = CRMetric(protocol='sen2mtc_official', lpips_weights=str(path))
    samples = _samples()
    metric.process({}, samples)
    res = metric.compute_metrics(metric.results)
    assert metric.unavailable == [] and RANDOM_LPIPS_KEY not in res
    proto = get_protocol('sen2mtc_official')
    expect = [proto(s['pred'][None], s['gt'][None], reference)['LPIPS'].item()
              for s in samples]
    assert res['LPIPS'] == pytest.approx(sum(expect) / 2, abs=1e-6)
    built = metric._lpips_model
    metric.process({}, samples)
    assert metric._lpips_model is built  # built once


@pytest.mark.parametrize('size', [(64, 64), (67, 90)])
def test_lpips_distance_equals_lpips_forward(reference, size):
    """The folded, batched computation gives lpips' own values (float32
    rounding) for RGB pairs and for bands replicated to 3 channels, at a
    size that is not a multiple of AlexNet's stride, also after the
    weights change (the folded first layer is recomputed)."""
    from crbench.evaluation.lpips_metric import lpips_distance
    g = torch.Generator().manual_seed(7)
    a = torch.rand(5, 3, *size, generator=g) * 255  # the CUHK 0–255 quirk
    b = (a + 40 * torch.randn(a.shape, generator=g)).clamp(0, 255)
    with torch.inference_mode():
        ref = reference(a, b).flatten()
        got = lpips_distance(reference, a, b)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-7)
        band = reference(a[:, :1].expand(-1, 3, -1, -1),
                         b[:, :1].expand(-1, 3, -1, -1)).flatten()
        torch.testing.assert_close(
            lpips_distance(reference, a[:, :1], b[:, :1]), band, rtol=1e-5,
            atol=1e-7)
    assert (ref - band).abs().max() > 1e-4  # the two cases differ
    conv = reference.net.slice1[0]
    saved = conv.weight.detach().clone()
    try:
        with torch.no_grad():
            conv.weight.mul_(1.5)
        with torch.inference_mode():
            torch.testing.assert_close(lpips_distance(reference, a, b),
                                       reference(a, b).flatten(), rtol=1e-5,
                                       atol=1e-7)
    finally:
        with torch.no_grad():
            conv.weight.copy_(saved)
