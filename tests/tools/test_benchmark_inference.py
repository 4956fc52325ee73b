"""tools/benchmark_inference.py: what an inference switch does to the prediction and its PSNR."""
import importlib.util
import json
import os.path as osp

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_inference', osp.join(REPO, 'tools', 'benchmark_inference.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_switch_rows_against_skimage_psnr(tmp_path):
    tool = _tool()
    out = tmp_path / 'inference.json'
    assert tool.main(['--models', 'memorynet', '--switches', 'baseline', 'no_grad',
                      'channels_last', '--size', '16', '--repeats', '1', '--json',
                      str(out)]) == 0
    rows = {r['switch']: r for r in json.loads(out.read_text())['rows']}
    assert list(rows) == ['baseline', 'no_grad', 'channels_last']
    # the baseline's prediction, recomputed here; PSNR with peak 1 on (x + 1) / 2
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 4, 16, 16, generator=g) * 2 - 1
    cloudy = (target + 0.5 * torch.rand(1, 1, 16, 16, generator=g)).clamp(-1, 1)
    model = tool.build('memorynet', {}, 16)
    with torch.no_grad():
        pred = model({'cloudy': cloudy}, mode='tensor')
    reference = peak_signal_noise_ratio(((target[0].double() + 1) / 2).numpy(),
                                        ((pred[0].double() + 1) / 2).numpy(), data_range=1.0)
    assert abs(rows['baseline']['psnr'] - reference) <= 1e-9
    assert rows['baseline']['speedup'] == 1 and rows['baseline']['max_abs_change'] == 0
    # inference_mode and no_grad compute the same numbers; channels_last only reorders sums
    assert rows['no_grad']['max_abs_change'] == 0 and rows['no_grad']['psnr_change'] == 0
    assert 0 <= rows['channels_last']['max_abs_change'] < 1e-4
    for row in rows.values():
        assert row['speedup'] == rows['baseline']['time_s'] / row['time_s']
        assert np.isclose(row['psnr_change'], row['psnr'] - rows['baseline']['psnr'],
                          rtol=0, atol=1e-12)


def test_de_row_times_one_network_evaluation(tmp_path):
    """DE's row: CNP + WA + fusion at t = 500 (DE Eqs. 8-12), recomputed here from the
    linear schedule, with the reference prior computed once."""
    tool = _tool()
    out = tmp_path / 'de.json'
    assert tool.main(['--models', 'de', '--switches', 'baseline', 'channels_last', '--size',
                      '16', '--repeats', '1', '--json', str(out)]) == 0
    rows = {r['switch']: r for r in json.loads(out.read_text())['rows']}
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 4, 16, 16, generator=g) * 2 - 1
    cloudy = (target + 0.5 * torch.rand(1, 1, 16, 16, generator=g)).clamp(-1, 1)
    x_t = torch.randn(cloudy.shape, generator=torch.Generator().manual_seed(2))
    model = tool.build('de', {}, 16, str(tmp_path))
    # no parameter left at zero: the prediction depends on every network
    assert all(p.any() for p in model.parameters() if p.numel() > 1)
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)[500]
    t = torch.tensor([500])
    with torch.no_grad():
        eps = model.cnp(x_t, t, cloudy)
        x0 = ((x_t - (1 - abar).sqrt().float() * eps) / abar.sqrt().float()).clamp(-1, 1)
        ref = model.reference.network(cloudy)[0]  # [-1, 1] in and out; stage 3 first
        w = model.weight_net(x_t, t, cloudy, ref).clamp(0.3, 1)
        pred = (1 - w) * x0 + w * ref
    reference = peak_signal_noise_ratio(((target[0].double() + 1) / 2).numpy(),
                                        ((pred[0].double() + 1) / 2).numpy(), data_range=1.0)
    assert abs(rows['baseline']['psnr'] - reference) <= 1e-9
    assert 0 < rows['channels_last']['max_abs_change'] < 1e-4
