"""tools/compare_configs.py: resolved configs, stage expansion, and the per-config verdict."""
import json

from helpers import load_tool


BASE = """
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=[]))
train_cfg = dict(max_iters=5)
model = dict(stage=3)
"""
# the same two stages, once with the pipelines written out and once named by key
LITERAL = BASE + """
stages = [dict(name='a', cfg_options=dict(model=dict(stage=1), train_dataloader=dict(
              batch_size=8, dataset=dict(pipeline=[dict(type='Resize', size=8)])))),
          dict(name='b', new_keys=['w.'], cfg_options=dict(train_dataloader=dict(
              dataset=dict(pipeline=[dict(type='Resize', size=16)]))))]
"""
BY_KEY = BASE + """
small = [dict(type='Resize', size=8)]
large = [dict(type='Resize', size=16)]
stages = [dict(name='a', train_pipeline='small',
               cfg_options=dict(model=dict(stage=1), train_dataloader=dict(batch_size=8))),
          dict(name='b', new_keys=['w.'], train_pipeline='large')]
"""


def write_tree(root, text):
    folder = root / 'configs' / 'm'
    folder.mkdir(parents=True)
    (folder / 'm_x.py').write_text(text)
    (root / 'configs' / '_base_').mkdir()
    (root / 'configs' / '_base_' / 'skipped.py').write_text('a = 1\n')
    return str(root)


def test_stages_compare_by_what_each_stage_runs(tmp_path, capsys):
    tool = load_tool('compare_configs')
    literal = tool.resolve_tree(write_tree(tmp_path / 'literal', LITERAL))
    by_key = tool.resolve_tree(write_tree(tmp_path / 'by_key', BY_KEY))
    assert list(literal) == ['configs/m/m_x.py']  # _base_ folders are skipped
    stages = literal['configs/m/m_x.py']['stages']
    assert [s['config']['train_dataloader'] for s in stages] == [
        {'batch_size': 8, 'dataset': {'pipeline': [{'type': 'Resize', 'size': 8}]}},
        {'batch_size': 2, 'dataset': {'pipeline': [{'type': 'Resize', 'size': 16}]}}]
    # the by-key form has the two pipelines as extra top-level keys, and nothing else differs
    diff = tool.differing_keys(literal['configs/m/m_x.py'], by_key['configs/m/m_x.py'])
    assert diff[:2] == ['large (added)', 'small (added)']
    assert all(k.endswith(('.large (added)', '.small (added)')) for k in diff[2:])
    changed = json.loads(json.dumps(by_key))
    changed['configs/m/m_x.py']['stages'][1]['config']['model']['stage'] = 2
    assert tool.compare(by_key, by_key) == 0
    assert tool.compare(by_key, changed, values=True) == 1
    out = capsys.readouterr().out
    assert 'same       configs/m/m_x.py' in out
    assert 'DIFFERENT  configs/m/m_x.py: stages[1].config.model.stage' in out
    assert '-> 2' in out


def test_dump_and_snapshot_round_trip(tmp_path, monkeypatch, capsys):
    tool = load_tool('compare_configs')
    root = write_tree(tmp_path / 'tree', LITERAL)
    monkeypatch.setattr(tool, 'REPO', root)
    dump = str(tmp_path / 'snap.json')
    assert tool.main(['--dump', dump]) == 0
    assert tool.main(['--snapshot', dump]) == 0
    (tmp_path / 'tree' / 'configs' / 'm' / 'm_x.py').write_text(LITERAL + 'model = dict(stage=2)\n')
    assert tool.main(['--snapshot', dump]) == 1
    assert 'DIFFERENT  configs/m/m_x.py: model.stage' in capsys.readouterr().out
    assert tool.main(['--snapshot', str(tmp_path / 'missing.json')]) == 2
