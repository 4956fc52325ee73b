"""tools/benchmark_metrics.py: crbench's protocols beside the per-image reference loops."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_metrics', osp.join(REPO, 'tools', 'benchmark_metrics.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_protocols_agree_with_the_reference_loops(tmp_path):
    out = tmp_path / 'metrics.json'
    rows = ['cuhk_official', 'sen12mscr_official', 'sen2mtc_official']
    assert _tool().main(['--size', '16', '--batches', '2', '--clock', 'wall', '--rows', *rows,
                         '--json', str(out)]) == 0
    result = json.loads(out.read_text())['rows']
    assert [r['row'] for r in result] == rows
    for r in result:
        assert r['batch'] == 2 and r['size'] == 16
        assert r['max_rel_diff']['metrics'] <= 1e-9, r['row']
        assert r['max_rel_diff']['LPIPS'] is None  # not computed: NaN, written as null
        assert r['ratio'] == pytest.approx(r['reference_s'] / r['crbench_s'])
        assert ('scipy_loop_s' in r) == (r['protocol'] != 'cuhk_official')


def test_a_wrong_value_shows_in_the_difference():
    tool = _tool()
    refs = tool._references()
    pred, gt = tool.make_batch('sen12mscr_official', 2, 13, 16)
    from crbench.evaluation import get_protocol
    ours = get_protocol('sen12mscr_official')(pred, gt)
    ref = tool.reference_loop('sen12mscr_official', pred, gt, None, refs)
    assert tool.max_differences(ours, ref)['metrics'] <= 1e-10
    ours['SSIM'] = ours['SSIM'].clone()
    ours['SSIM'][1] *= 1.01
    assert tool.max_differences(ours, ref)['metrics'] == pytest.approx(0.01, rel=1e-6)


def test_both_sides_are_timed_in_turn():
    """Reference and crbench alternate call by call (a slow phase of the
    machine falls on both); each keeps its last result and minimum time."""
    calls = []

    def side(name):
        def call():
            calls.append(name)
            return f'{name}{len(calls)}'
        return call

    (ref, t_ref), (ours, t_ours) = _tool().timed_alternately(
        [side('ref'), side('ours')], 3, 'wall')
    assert calls == ['ref', 'ours'] * 3
    assert (ref, ours) == ('ref5', 'ours6')
    assert 0 <= t_ref < 1 and 0 <= t_ours < 1
    assert _tool().parse_args([]).repeats == 3
