"""The efficiency table shows both MAC counts (crbench.analysis.flops writes them)."""
from crbench.leaderboard.markdown import _efficiency_md
from crbench.leaderboard.sections import SHARED_FOOTNOTE, efficiency_rows


def test_efficiency_table_shows_both_counts():
    rec = {'model': 'memorynet', 'config': 'configs/memorynet/memorynet_cuhkcr2.py',
           'dataset': 'CUHK-CR2', 'input_shapes': {'cloudy': [1, 4, 256, 256]},
           'device': 'cpu', 'params': 3638993, 'macs': 141096541992, 'latency_ms': 1.0,
           'macs_G_paper_convention': 563.236462376,
           'macs_G_paper_convention_shared_once': 141.231152936}
    rows = efficiency_rows(None, [rec])
    cells, values = rows[0]['cells'], rows[0]['values']
    assert cells['MACs (G)'] == '141.10'
    assert cells['MACs, paper convention (G)'] == '563.24 †'
    assert values['MACs, paper convention (G)'] == 563.24
    assert 'counted once: 141.23 G' in cells['Notes']
    assert SHARED_FOOTNOTE in '\n'.join(_efficiency_md(rows, 'efficiency/'))
    # older JSONs without the field, and nothing shared: no mark, no footnote
    del rec['macs_G_paper_convention']
    rows = efficiency_rows(None, [rec])
    assert SHARED_FOOTNOTE not in '\n'.join(_efficiency_md(rows, 'efficiency/'))
