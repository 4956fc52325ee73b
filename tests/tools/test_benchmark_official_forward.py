"""tools/benchmark_official_forward.py without the official clone (CI has none); with
$CRBENCH_OFFICIAL_COLLECTION pointing at a clone, one small run against it."""
import importlib.util
import json
import os
import os.path as osp
import sys

import pytest
import torch
from torch import nn

from crbench.models.restorers.supervised import RangeMap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()  # main() sets --threads for the whole process
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_official_forward',
        osp.join(REPO, 'tools', 'benchmark_official_forward.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_official_root_gives_skipped_rows_naming_it(tool, tmp_path, capsys):
    missing = tmp_path / 'no-clone-here'
    out = tmp_path / 'record.json'
    assert tool.main(['--official-root', str(missing), '--size', '16', '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert [r['network'] for r in rows] == list(tool.NETWORKS)
    for row in rows:
        assert row['status'] == 'skipped' and str(missing) in row['reason']
    assert 'skipped' in capsys.readouterr().out


def test_no_official_root_says_how_to_give_one(tool, monkeypatch):
    monkeypatch.delenv(tool.ROOT_ENV, raising=False)
    args = tool.parse_args([])
    assert args.official_root is None
    record = tool.benchmark(args.official_root, ('spagan',), size=16, repeats=1)
    assert '--official-root' in record['rows'][0]['reason']


def test_a_folder_without_model_is_not_the_clone(tool, tmp_path):
    assert 'no model/ folder' in tool.official_root_problem(str(tmp_path))
    (tmp_path / 'model').mkdir()
    assert tool.official_root_problem(str(tmp_path)) is None


def test_official_modules_import_under_a_private_package(tool, tmp_path):
    # a miniature clone: relative imports as in the collection, no __init__.py files
    (tmp_path / 'model' / 'net' / 'gen').mkdir(parents=True)
    (tmp_path / 'model' / 'net' / 'layers.py').write_text('WIDTH = 3\n')
    (tmp_path / 'model' / 'net' / 'gen' / 'body.py').write_text(
        'from ..layers import WIDTH\n')
    module = tool.import_official(str(tmp_path), 'model.net.gen.body')
    assert module.WIDTH == 3
    assert module.__name__.startswith(tool.OFFICIAL_PACKAGE + '.')
    assert 'model.net.gen.body' not in sys.modules  # the clone's own names stay free


def test_cuda_calls_stay_on_cpu_only_inside_the_context(tool):
    had = {name: name in vars(torch.Tensor) for name in ('cuda', 'type')}
    with tool.cuda_calls_stay_on_cpu():
        x = torch.ones(2, dtype=torch.float64)
        assert x.cuda() is x
        moved = x.type(torch.cuda.FloatTensor)
        assert moved.device.type == 'cpu' and moved.dtype == torch.float32
        assert x.type('torch.cuda.HalfTensor').dtype == torch.float16
        assert x.type() == 'torch.DoubleTensor'
        layer = nn.Linear(1, 1)
        assert layer.cuda() is layer
    assert {name: name in vars(torch.Tensor) for name in ('cuda', 'type')} == had
    assert torch.Tensor.type is torch._C.TensorBase.type


def test_alternating_times_rotates_the_order_and_returns_warmup_outputs(tool):
    log, now = [], [0.0]
    cost = {'a': 1.0, 'b': 2.0, 'c': 4.0}

    def make(name):
        def call():
            log.append(name)
            now[0] += cost[name]
            return name + '-out'
        return call

    first, times = tool.alternating_times({n: make(n) for n in cost}, repeats=3,
                                          clock=lambda: now[0])
    assert first == {'a': 'a-out', 'b': 'b-out', 'c': 'c-out'}
    assert log == ['a', 'b', 'c',            # warm-up
                   'a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']
    assert times == {'a': [1.0] * 3, 'b': [2.0] * 3, 'c': [4.0] * 3}


def test_difference_is_taken_in_the_official_eval_range(tool):
    official = torch.tensor([-0.5, 0.25, 0.75, 1.5])
    # crbench works in [-1, 1]; a (0, 1) network's output maps back as (p + 1) / 2
    crbench = torch.tensor([-1.0, -0.5, 0.5, 1.0])
    assert tool.max_abs_difference(official, crbench, RangeMap((0.0, 1.0))) == 0
    off_by = torch.tensor([-1.0, -0.5, 0.52, 1.0])
    assert tool.max_abs_difference(official, off_by, RangeMap((0.0, 1.0))) == \
        pytest.approx(0.01, abs=1e-6)
    # a [-1, 1] network (crbench's MemoryNet): both clamped to [0, 1] as officially scored
    assert tool.max_abs_difference(torch.tensor([0.0, 0.3, 1.0]), torch.tensor([-0.7, 0.3, 1.0]),
                                   RangeMap((-1.0, 1.0))) == 0
    assert tool.fraction_inside_range(official) == 0.5


class _OfficialToy(nn.Module):
    """Returns (aux, image) like the collection's networks; fails unless 3 bands."""

    def forward(self, x):
        if x.shape[1] != 3:
            raise RuntimeError('shape mismatch')
        return None, x * 0.5


class _CrbenchToy(nn.Module):
    range = RangeMap((0.0, 1.0))

    def forward(self, inputs, mode):
        assert mode == 'tensor'
        return self.range.from_network(self.range.to_network(inputs['cloudy']) * 0.5)


def test_an_official_network_failing_with_4_bands_runs_both_with_3(tool, monkeypatch):
    monkeypatch.setitem(tool.OFFICIAL, 'spagan', tool.OfficialSpec('unused', None))
    monkeypatch.setattr(tool, 'build_official', lambda root, net, bands, seed: _OfficialToy())
    built = []

    def crbench_models(network, official, bands, size):
        built.append(bands)
        return {'baseline': _CrbenchToy(), 'channels_last': _CrbenchToy()}

    monkeypatch.setattr(tool, 'crbench_models', crbench_models)
    row = tool.measure_network('spagan', 'root', bands=4, size=8, repeats=2, seed=0)
    assert row['status'] == 'ok' and row['bands'] == 3 and built == [3]
    assert 'fails with 4 bands' in row['note'] and 'shape mismatch' in row['note']
    assert row['max_abs_diff'] < 1e-6 and len(row['times_s']['official']) == 2


def test_a_fixed_size_official_network_is_skipped_at_other_sizes(tool):
    row = tool.measure_network('cvae', 'unused-root', bands=4, size=64, repeats=1, seed=0)
    assert row['status'] == 'skipped' and '256x256' in row['reason']


@pytest.mark.skipif(not os.environ.get('CRBENCH_OFFICIAL_COLLECTION'),
                    reason='set CRBENCH_OFFICIAL_COLLECTION to a clone of '
                           'littlebeen/Cloud-removal-model-collection')
def test_against_the_official_clone(tool):
    record = tool.benchmark(os.environ['CRBENCH_OFFICIAL_COLLECTION'],
                            ('memorynet', 'spagan', 'amgan_cr'), size=16, repeats=1)
    for row in record['rows']:
        assert row['status'] == 'ok', row
        assert row['max_abs_diff'] < 1e-5 and row['max_abs_diff_channels_last'] < 1e-5
