"""The model index (crbench/model_index.py): metafiles, the README table, ``crbench zoo``."""
import csv
import glob
import os.path as osp

import pytest

from crbench.model_index import (ModelIndexError, load_model_index, parse_metafile,
                                 readme_section, update_readme)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPORTED = osp.join(REPO, 'leaderboard', 'reported.csv')


@pytest.fixture(scope='module')
def index():
    return load_model_index([osp.join(REPO, 'leaderboard', 'metafile.yml')])


def test_every_model_folder_has_a_metafile_and_every_config_an_entry(index):
    configs = {e.config for e in index.models() if e.config}
    for folder in sorted(glob.glob(osp.join(REPO, 'configs', '*', ''))):
        name = osp.basename(osp.dirname(folder))
        if name in ('_base_', 'demo', 'smoke'):  # smoke configs are checks, not models
            continue
        assert osp.isfile(osp.join(folder, 'metafile.yml')), f'configs/{name} has no metafile'
        for path in glob.glob(osp.join(folder, f'{name}*_*.py')) + glob.glob(
                osp.join(folder, 'de_*.py')):
            assert osp.relpath(path, REPO) in configs, path
    for config in configs:
        assert osp.isfile(osp.join(REPO, config)), config


def test_metafile_results_equal_reported_csv(index):
    """Each reported number of an implemented method is in its metafile, and nothing else."""
    with open(REPORTED, encoding='utf-8') as f:
        rows = [r for r in csv.DictReader(f) if index.get(r['model'])
                and index.get(r['model']).implemented]
    want = {(r['model'], r['dataset'], r['protocol'], r['source'], r['table'], r['metric'],
             float(r['value'])) for r in rows}
    got = {(m.key, res['Dataset'], res['Protocol'], res['Paper'], res['Table'], metric, value)
           for m in index.models() for res in m.results
           for metric, value in res['Metrics'].items()}
    assert got == want


def test_every_reported_model_has_a_display_name(index):
    with open(REPORTED, encoding='utf-8') as f:
        keys = {r['model'] for r in csv.DictReader(f)}
    assert keys <= set(index.collections), keys - set(index.collections)
    assert index.display('de_msda') == 'DE-MSDA' and index.display('unknown', 'X') == 'X'
    assert [c.key for c in index.ordered()][:3] == ['spagan', 'amgan_cr', 'cvae']


def test_official_weights_entries(index):
    spagan = {m.name: m for m in index.filter('spagan', weights=True)}
    assert sorted(spagan) == ['spagan_rice1', 'spagan_rice2']
    for name, m in spagan.items():
        (w,) = m.weights
        assert 'Penn000/SpA-GAN_for_cloud_removal' in w['URL']
        assert len(w['SHA256']) == 64 and w['Input']['Band Order'].startswith('BGR')
        assert w['Converter'].startswith('python tools/model_converters/')
    assert {m.name for m in index.filter('emrdm', weights=True)} == {
        'emrdm_cuhkcr1', 'emrdm_cuhkcr2', 'emrdm_sen12mscr', 'emrdm_sen2mtc_new'}
    assert index.filter('', dataset='RICE2', weights=True)


def test_spagan_sha256_matches_the_shipped_fixture(index):
    """When the official generators ship as test fixtures, their sha256 is the index's."""
    import hashlib
    for m in index.filter('spagan', weights=True):
        version = m.datasets[0][-1]
        found = glob.glob(osp.join(REPO, 'tests', 'data', '**',
                                   f'RICE{version}_gen_model_epoch_200.pth'), recursive=True)
        if not found:
            pytest.skip('official SpA-GAN generators are not under tests/data/')
        with open(found[0], 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == m.weights[0]['SHA256']


def test_readme_model_zoo_section_is_generated(index):
    readme = osp.join(REPO, 'README.md')
    assert update_readme(readme, load_model_index(), check=True), \
        'README.md model-zoo table is stale: run `crbench zoo --readme README.md`'
    text = open(readme, encoding='utf-8').read()
    assert readme_section(load_model_index()) in text


def test_update_readme_writes_between_markers(tmp_path, index):
    path = tmp_path / 'README.md'
    path.write_text('# x\n<!-- model-zoo:start -->\nOLD TABLE\n<!-- model-zoo:end -->\ntail\n')
    assert not update_readme(str(path), index, check=True)
    assert 'OLD TABLE' in path.read_text()  # --check writes nothing
    assert not update_readme(str(path), index)
    assert update_readme(str(path), index, check=True)
    text = path.read_text()
    assert 'OLD TABLE' not in text and text.endswith('<!-- model-zoo:end -->\ntail\n')
    assert '| [SpA-GAN](configs/spagan/README.md) |' in text
    (tmp_path / 'none.md').write_text('no markers')
    with pytest.raises(ModelIndexError, match='markers'):
        update_readme(str(tmp_path / 'none.md'), index)


def test_bad_metafiles_refused_with_the_file_named(tmp_path):
    bad = tmp_path / 'metafile.yml'
    bad.write_text('Collections:\n- Name: A\nModels:\n- Name: a\n  In Collection: A\n')
    with pytest.raises(ModelIndexError, match=r"metafile.yml.*'Key'"):
        parse_metafile(str(bad))
    bad.write_text('Collections:\n- {Name: A, Key: a}\nModels:\n- {Name: a, In Collection: B}\n')
    with pytest.raises(ModelIndexError, match="collection 'B'"):
        parse_metafile(str(bad))
    bad.write_text('Collections:\n- {Name: A, Key: a}\nModels:\n- Name: a\n  In Collection: A\n'
                   '  Weights:\n  - {URL: http://x}\n')
    with pytest.raises(ModelIndexError, match='SHA256'):
        parse_metafile(str(bad))
    dup = tmp_path / 'dup.yml'
    dup.write_text('Collections:\n- {Name: Mine, Key: memorynet}\n')
    with pytest.raises(ModelIndexError, match='already defined'):
        load_model_index([str(dup)])


def test_zoo_command_lists_and_filters(capsys):
    import json
    from crbench.commands.zoo import main
    assert main(['spagan', '--weights', '--json']) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e['name'] for e in entries] == ['spagan_rice1', 'spagan_rice2']
    assert main(['--dataset', 'Sen2_MTC_New', '--json']) == 0
    names = {e['name'] for e in json.loads(capsys.readouterr().out)}
    assert 'emrdm_sen2mtc_new' in names and 'de_msda_sen2mtc_new' in names
    assert main(['no-such-model']) == 1
    assert main(['spagan', '--dataset', 'RICE1']) == 0
    table = capsys.readouterr().out
    assert 'SpA-GAN' in table and 'RICE1' in table and 'RICE2' not in table
