"""tools/benchmark.py and crbench.analysis.benchmark: a config's model measured, DE sampling."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from crbench.analysis.benchmark import count_nfe
from crbench.analysis.flops import conv2d_macs

REPO = Path(__file__).resolve().parents[2]
MEMORYNET_CFG = REPO / 'configs' / 'memorynet' / 'memorynet_cuhkcr2.py'
# official build, 4 bands (crbench/models/reference/memorynet.py)
MEMORYNET_PARAMS_4_BANDS = 3_638_993


def _load_cli():
    spec = importlib.util.spec_from_file_location('crbench_tools_benchmark',
                                                  REPO / 'tools' / 'benchmark.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_count_nfe_follows_sampler_config():
    from crbench.models.diffusion.de import GaussianDiffusion
    from crbench.samplers.ddim import DDIMSampler
    from crbench.samplers.ddpm import DDPMSampler
    process = GaussianDiffusion.linear(1000)
    assert count_nfe(DDIMSampler(num_steps=10), process, (1, 2, 4, 4)) == 10
    assert count_nfe(DDIMSampler(num_steps=3), process, (1, 2, 4, 4)) == 3
    assert count_nfe(DDPMSampler(num_steps=7), process, (1, 2, 4, 4)) == 7


# ---------------------------------------------------------------------------
# tools/benchmark.py on real configs, small inputs
# ---------------------------------------------------------------------------

def _conv_macs_by_hooks(model: nn.Module, fn) -> int:
    """Independent count: closed form of every Conv2d call, from the shapes it sees."""
    total = [0]

    def hook(mod, args):
        x = args[0]
        total[0] += conv2d_macs(mod, x.shape[-2], x.shape[-1], x.shape[0])

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        fn()
    for h in handles:
        h.remove()
    return total[0]


def test_benchmark_memorynet_small(tmp_path, capsys):
    out = tmp_path / 'eff' / 'memorynet.json'
    rc = _load_cli().main([str(MEMORYNET_CFG), '--size', '32', '--repeats', '2',
                           '--warmup', '0', '--out', str(out)])
    assert rc == 0
    assert 'memorynet' in capsys.readouterr().out
    rec = json.loads(out.read_text())
    assert rec['kind'] == 'efficiency' and rec['schema_version'] == 1
    assert rec['model'] == 'memorynet' and rec['dataset'] == 'CUHK-CR2'
    assert rec['config'] == 'configs/memorynet/memorynet_cuhkcr2.py'
    assert rec['input_shapes'] == {'cloudy': [1, 4, 32, 32]}  # num_bands of cuhk_cr2.py
    # the generator only: the loss modules are not part of the count
    assert rec['params'] == MEMORYNET_PARAMS_4_BANDS
    # MemoryNet is convolutions only: the counter must equal the closed form summed
    # over every Conv2d call
    from mmengine.config import Config
    from crbench.registry import MODELS
    cfg = Config.fromfile(str(MEMORYNET_CFG))
    net = MODELS.build(cfg.model.generator).eval()
    x = torch.rand(1, 4, 32, 32) * 2 - 1
    assert rec['macs'] == _conv_macs_by_hooks(net, lambda: net(x))
    assert set(rec['macs_by_op_G']) == {'convolution'}
    assert rec['macs_G'] == pytest.approx(rec['macs'] / 1e9)
    assert len(rec['latency_ms_all']) == 2 and rec['latency_ms'] > 0
    assert rec['peak_memory_MB'] >= 0 and rec['memory_method'].startswith('cpu')
    if 'VmHWM' in rec['memory_method']:
        assert rec['peak_memory_MB'] > 0
    assert 'sampling' not in rec
    assert rec['threads'] == torch.get_num_threads()


DE_CONFIG = """
_base_ = ['{base}/_base_/datasets/cuhk_cr2.py', '{base}/_base_/default_runtime.py']
model_name = 'de_memorynet'
model = dict(
    type='DiffusionEnhancement',
    cnp=dict(type='DECNP', num_bands=4),
    weight_net=dict(type='DEWeightNet', num_bands=4),
    reference=dict(type='MemoryNet', in_channels=4, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    reference_checkpoint='{missing}',
    sampler=dict(type='DDIMSampler', num_steps=3, eta=0.0))
"""


def test_benchmark_de_small_missing_reference(tmp_path):
    """Full-size DE networks at 32x32; the reference checkpoint does not exist."""
    cfg_path = tmp_path / 'de_memorynet_test.py'
    missing = tmp_path / 'no_such_reference.pth'
    cfg_path.write_text(DE_CONFIG.format(base=REPO / 'configs', missing=missing))
    out = tmp_path / 'de.json'
    rc = _load_cli().main([str(cfg_path), '--size', '32', '--repeats', '1', '--warmup', '0',
                           '--out', str(out), '--full-sampling'])
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec['model'] == 'de_memorynet' and rec['framework'] == 'DiffusionEnhancement'
    comps = rec['components']
    assert list(comps) == ['cnp', 'weight_net', 'reference']
    from mmengine.config import Config
    from crbench.registry import MODELS
    cfg = Config.fromfile(str(cfg_path))
    with torch.device('meta'):
        n = {k: sum(p.numel() for p in MODELS.build(cfg.model[k]).parameters())
             for k in ('cnp', 'weight_net', 'reference')}
    assert {k: comps[k]['params'] for k in comps} == n
    assert n['reference'] == MEMORYNET_PARAMS_4_BANDS
    # one network evaluation = CNP + WA (DE Table X / EMRDM Table 6 count 36.80 M)
    assert rec['params'] == n['cnp'] + n['weight_net']
    assert abs(rec['params'] / 1e6 - 36.80) < 0.01
    assert rec['params_with_reference'] == rec['params'] + n['reference']
    assert rec['macs'] == comps['cnp']['macs'] + comps['weight_net']['macs']
    assert rec['latency_ms'] == pytest.approx(comps['cnp']['latency_ms']
                                              + comps['weight_net']['latency_ms'])
    # attention is counted, not only convolutions: as bmm (einsum) or as the fused CPU
    # kernel scaled_dot_product_attention dispatches to for contiguous q, k, v
    by_op = comps['cnp']['macs_by_op_G']
    assert by_op.get('bmm', 0) + by_op.get('_scaled_dot_product_flash_attention_for_cpu', 0) > 0
    assert rec['reference_checkpoint_exists'] is False
    s = rec['sampling']
    assert s['method'] == 'estimate' and s['nfe'] == 3 and s['sampler'] == 'DDIMSampler'
    assert s['macs'] == comps['reference']['macs'] + 3 * rec['macs']
    assert s['latency_ms'] == pytest.approx(comps['reference']['latency_ms']
                                            + 3 * rec['latency_ms'])
    # the real sampling loop (random reference weights) costs exactly the estimated MACs
    full = s['measured']
    assert full['macs'] == s['macs']
    assert full['latency_ms'] > 0 and 'random reference weights' in full['note']
    assert not missing.exists()  # nothing written at the configured path


def test_out_needs_single_config(capsys):
    with pytest.raises(SystemExit):
        _load_cli().parse_args([str(MEMORYNET_CFG), str(MEMORYNET_CFG), '--out', 'x.json'])
    assert '--out takes one CONFIG' in capsys.readouterr().err


def test_write_json_is_standard_json(tmp_path):
    from crbench.analysis.benchmark import write_json

    def refuse(name):
        raise ValueError(f'non-standard JSON constant {name}')

    path = tmp_path / 'sub' / 'record.json'
    write_json({'a': float('nan'), 'b': [1.5, float('inf')], 'c': {'d': -float('inf')}},
               str(path))
    assert json.loads(path.read_text(), parse_constant=refuse) == {
        'a': None, 'b': [1.5, None], 'c': {'d': None}}
    assert os.listdir(path.parent) == ['record.json']  # no temporary file left
