"""tools/benchmark_neighborhood_attention.py at small token grids (16² and 24²)."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_na', osp.join(REPO, 'tools', 'benchmark_neighborhood_attention.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profiler_peak_is_the_high_water_mark_of_allocations(tool):
    def work():
        a = torch.ones(1024, 1024)  # 4 MiB
        b = torch.ones(2048, 1024)  # 8 MiB -> 12 MiB live
        del a
        c = torch.ones(512, 1024)   # 2 MiB -> 10 MiB live
        return b.sum() + c.sum()

    peak = tool.profiler_peak_bytes(work)
    assert 12 * 2 ** 20 <= peak < 12 * 2 ** 20 + 4096


def test_neighborhood_mask_matches_the_index_maps(tool):
    mask = tool.neighborhood_mask(5, 3).view(5, 5, 5, 5)
    assert mask.sum(dim=(2, 3)).eq(9).all()          # every query sees k^2 keys
    assert mask[0, 0, :3, :3].all() and not mask[0, 0, 3:].any()  # shifted in at the corner
    assert mask[2, 2, 1:4, 1:4].all() and mask[2, 2].sum() == 9   # centred inside


def test_benchmark_reports_na_below_dense_memory(tool, tmp_path, capsys):
    out = tmp_path / 'na.json'
    assert tool.main(['--sizes', '16', '24', '--repeats', '1', '--warmup', '0',
                      '--json', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'dense_masked' in printed and 'peak MiB' in printed
    record = json.loads(out.read_text())
    assert record['benchmark'] == 'neighborhood_attention'
    cfg = record['config']
    assert cfg['sizes'] == [16, 24] and cfg['heads'] == 2 and cfg['d_head'] == 64
    assert cfg['kernel_size'] == 7 and cfg['memory_method'] == 'profiler'
    assert record['environment']['torch'] == torch.__version__
    rows = {(r['tokens_side'], r['impl'], r['mode']): r for r in record['results']}
    assert len(rows) == 2 * len(tool.IMPLS) * len(tool.MODES)
    for key in [key for key in rows if key[1] == 'natten']:
        natten_row = rows.pop(key)  # natten's kernel: only where it imports
        reason = tool.natten_unavailable(key[2])
        assert natten_row['status'] == ('skipped' if reason else 'ok')
        assert natten_row.get('reason') == reason
    for r in rows.values():
        assert r['status'] == 'ok' and r['num_tokens'] == r['tokens_side'] ** 2
        assert r['time_ms'] > 0 and r['peak_bytes'] > 0
        assert r['peak_mib'] == pytest.approx(r['peak_bytes'] / 2 ** 20)
        assert {'time_vs_na', 'memory_vs_na', 'persistent_bytes', 'time_ms_all'} <= set(r)
    n = 24 * 24
    assert rows[(24, 'dense_masked', 'forward')]['persistent_bytes'] == n * n  # its bool mask
    for mode in tool.MODES:
        na = rows[(24, 'na', mode)]['peak_bytes']
        for dense in ('dense_masked', 'dense_global'):
            assert na < rows[(24, dense, mode)]['peak_bytes'], (mode, dense)
            # at least one fp32 N x N matrix per head: a floor for the dense peak
            assert rows[(24, dense, mode)]['peak_bytes'] >= 2 * n * n * 4
        # dense grows as N^2, NA as N: the gap widens from 16^2 to 24^2 tokens
        assert rows[(24, 'dense_masked', mode)]['memory_vs_na'] > \
            rows[(16, 'dense_masked', mode)]['memory_vs_na']
    # NA and the masked dense attention compute the same thing
    assert [c['tokens_side'] for c in record['checks']] == [16, 24]
    assert all(c['max_abs_diff_na_vs_dense_masked'] < 1e-4 for c in record['checks'])


def test_dense_cases_over_the_budget_are_skipped(tool):
    record = tool.benchmark(sizes=(12,), repeats=1, warmup=0, impls=('na', 'dense_masked'),
                            modes=('forward',), max_dense_gib=1e-6)
    status = {r['impl']: r for r in record['results']}
    assert status['na']['status'] == 'ok'
    assert status['dense_masked']['status'] == 'skipped'
    assert 'max-dense-gib' in status['dense_masked']['reason']
    assert status['dense_masked']['peak_bytes'] is None


def test_bad_arguments_are_refused(tool, capsys):
    assert tool.main(['--sizes', '8', '--kernel-size', '4']) == 2
    assert 'odd' in capsys.readouterr().err


@pytest.mark.slow
def test_rss_method_agrees_on_the_ordering(tool):
    """The independent RSS measurement (fresh subprocess per case) orders them alike."""
    spec = dict(side=32, kernel_size=7, scale=0.125, batch=1, heads=2, d_head=64,
                mode='forward', threads=1)
    na, _ = tool.rss_peak_bytes(dict(spec, impl='na'))
    dense, exact = tool.rss_peak_bytes(dict(spec, impl='dense_masked'))
    n = 32 * 32
    assert exact and dense >= 2 * n * n * 4  # the N x N logits of 2 heads are resident
    assert na < dense
