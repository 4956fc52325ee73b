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
