"""BaseRestorer's inference switches (``inference_cfg``) on a tiny MemoryNet and SpA-GAN."""
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config

from crbench.models.restorers import base
from crbench.models.restorers.base import check_inference_cfg
from crbench.registry import MODELS
from crbench.setup_env import register_all_modules
from crbench.structures import CRDataSample

TINY_MEMORYNET = dict(type='MemoryNet', in_channels=4, n_feat=8, scale_unetfeats=4,
                      scale_orsnetfeats=4, num_cab=1)


def build(repo_root, **inference_cfg):
    register_all_modules()
    cfg = Config.fromfile(osp.join(repo_root, 'configs/memorynet/memorynet_cuhkcr2.py'))
    model_cfg = dict(cfg.model, generator=TINY_MEMORYNET)
    if inference_cfg:
        model_cfg['inference_cfg'] = inference_cfg
    torch.manual_seed(0)
    return MODELS.build(model_cfg).eval()


def predict(model, x, samples=None):
    samples = [CRDataSample() for _ in range(x.shape[0])] if samples is None else samples
    out = model({'cloudy': x}, samples, mode='predict')
    return torch.stack([s.pred for s in out])


@pytest.fixture(scope='module')
def cloudy():
    return torch.rand(2, 4, 24, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_default_is_inference_mode(repo_root, cloudy):
    model = build(repo_root)
    assert model.inference_cfg == check_inference_cfg(None)
    samples = [CRDataSample(), CRDataSample()]
    pred = predict(model, cloudy, samples)
    assert torch.is_inference(samples[0].pred) and samples[0].pred.dtype == torch.float32
    plain_samples = [CRDataSample(), CRDataSample()]
    plain = predict(build(repo_root, inference_mode=False), cloudy, plain_samples)
    assert not torch.is_inference(plain_samples[0].pred)
    torch.testing.assert_close(pred, plain, rtol=0, atol=0)


def test_channels_last_keeps_values_and_converts_weights(repo_root, cloudy):
    ref = predict(build(repo_root), cloudy)
    model = build(repo_root, channels_last=True)
    got = predict(model, cloudy)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
    conv = next(m for m in model.generator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_returns_float32_close_to_fp32(repo_root, cloudy):
    ref = predict(build(repo_root), cloudy)
    got = predict(build(repo_root, autocast='bf16'), cloudy)
    assert got.dtype == torch.float32
    assert 0 < (got - ref).abs().max() < 0.1  # bf16 has 8 mantissa bits


@pytest.mark.parametrize('fast', [True, False])
def test_autocast_on_a_cpu_without_its_kernels_warns(repo_root, cloudy, monkeypatch, fast):
    monkeypatch.setattr(base, 'cpu_has_fast_kernels', lambda name: fast)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        predict(build(repo_root, autocast='bf16'), cloudy)
    slow = [w for w in caught if 'no oneDNN bf16 kernels' in str(w.message)]
    assert len(slow) == (0 if fast else 1)
    assert fast or 'leave autocast off' in str(slow[0].message)


def _cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            return next((set(line.split(':', 1)[1].split()) for line in f
                         if line.startswith('flags')), None)
    except OSError:
        return None


def test_the_kernel_probe_agrees_with_the_cpu_flags():
    """The CPU's own feature flags are the reference: no AVX-512 and no AMX means no
    oneDNN bf16/fp16 kernels; AVX-512 BF16 or AMX-BF16 means bf16 kernels."""
    with pytest.raises(KeyError):
        base.cpu_has_fast_kernels('fp8')
    flags = _cpu_flags()
    if flags is None or not ({'sse2', 'avx2'} & flags):
        pytest.skip('not an x86 Linux machine: no /proc/cpuinfo flags to compare with')
    if not any(f.startswith(('avx512', 'amx')) for f in flags):
        assert not base.cpu_has_fast_kernels('bf16') and not base.cpu_has_fast_kernels('fp16')
    elif {'avx512_bf16', 'amx_bf16'} & flags:
        assert base.cpu_has_fast_kernels('bf16')
    else:
        pytest.skip('AVX-512 without BF16: PyTorch may emulate bf16 in oneDNN; no reference')


def test_compile_is_used_while_predicting_only(repo_root, cloudy):
    # backend 'eager': dynamo traces and runs the graph without inductor's C++ build
    model = build(repo_root, compile=dict(backend='eager', modules=['generator']))
    ref = predict(build(repo_root), cloudy)
    torch.testing.assert_close(predict(model, cloudy), ref, rtol=0, atol=0)
    assert set(model._compiled) == {'generator'}
    assert 'forward' not in vars(model.generator)  # eager forward restored afterwards
    model.train()
    out = model({'cloudy': cloudy}, mode='tensor')  # training mode: no switches
    assert out.requires_grad


def test_bad_inference_cfg_is_refused_clearly(repo_root):
    with pytest.raises(KeyError, match='channel_last.*valid keys'):
        build(repo_root, channel_last=True)
    with pytest.raises(ValueError, match='autocast'):
        build(repo_root, autocast='fp8')
    model = build(repo_root, compile=dict(modules=['discriminator']))
    with pytest.raises(KeyError, match='discriminator'):
        predict(model, torch.zeros(1, 4, 16, 16))
