"""crbench/converters/common.py: every official layout is recognised from key names taken
from the official networks (the fixtures of each converter's tests), and the command it
names is that layout's converter."""
import json
import os.path as osp

import pytest
import torch

from crbench.converters.common import SOURCE_FORMATS, converter_command, detect_source_format

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
REFERENCE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'models', 'reference',
                     'data')


def _json(*parts):
    with open(osp.join(*parts)) as f:
        return json.load(f)


def _listed(path, role='generator'):
    """Keys of ``role`` in a 'role key shape' text fixture."""
    with open(path) as f:
        return [line.split()[1] for line in f if line.split()[:1] == [role]]


def _state(keys):
    return {k: torch.zeros(1) for k in keys}


CASES = {
    'collection': lambda: _state(_json(DATA, 'collection_official',
                                       'state_dict_keys.json')['amgan_cr_generator']),
    'glf_cr_official': lambda: {'network': _state(
        k for k, _, _ in _json(DATA, 'glf_cr_official', 'state_dict_keys.json')['keys'])},
    'ctgan_official': lambda: _state(_json(DATA, 'ctgan',
                                           'official_state_dict_shapes_64px.json')['generator']),
    'pmaa_official': lambda: _state(_listed(osp.join(REFERENCE, 'pmaa_official_keys.txt'))),
    'stgan_official': lambda: _state(_listed(osp.join(REFERENCE, 'stgan_official_keys.txt'))),
    'uncrtaints_official': lambda: _state(['in_conv.conv.conv.0.weight',
                                           'out_conv.conv.conv.0.weight']),
}
COMMANDS = {
    'collection': 'convert_collection.py amgan_cr {path} G_crbench.pth',
    'glf_cr_official': 'convert_glf_cr.py {path} G_crbench.pth',
    'ctgan_official': 'convert_ctgan.py {path} G_crbench.pth',
    'pmaa_official': 'convert_pmaa.py {path} G_crbench.pth',
    'stgan_official': 'convert_stgan.py {path} G_crbench.pth',
    'uncrtaints_official': 'convert_uncrtaints.py {path} G_crbench.pth',
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_official_layouts_name_their_converter(name, tmp_path):
    state, path = CASES[name](), str(tmp_path / 'G.pth')
    assert detect_source_format(state) == name
    assert converter_command(state, path) == ('python tools/model_converters/'
                                              + COMMANDS[name].format(path=path))


def test_every_format_names_an_existing_converter(repo_root):
    for name, (description, command) in SOURCE_FORMATS.items():
        script = command.split()[1]
        assert osp.isfile(osp.join(repo_root, script)), (name, script)
        assert description and '{path}' in command and '{out}' in command


def test_unknown_layout_is_not_guessed():
    assert detect_source_format(_state(['conv.weight', 'conv.bias'])) is None
    assert converter_command(_state(['conv.weight']), 'x.pth') is None


@pytest.mark.parametrize('module', ['collection', 'ctgan', 'pmaa', 'stgan', 'uncrtaints'])
def test_unreadable_or_missing_file_exits_2_naming_it(module, tmp_path, capsys):
    """Every converter's command line: a file torch cannot read, or no file, is a message
    naming it and exit status 2, and nothing is written."""
    import importlib
    main = importlib.import_module(f'crbench.converters.{module}').main
    corrupt, out = tmp_path / 'G_truncated.pth', tmp_path / 'out.pth'
    corrupt.write_bytes(b'PK\x03\x04 half a download')
    lead = ['spagan'] if module == 'collection' else []
    for src in (corrupt, tmp_path / 'absent.pth'):
        assert main(lead + [str(src), str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f'convert_{module}: ') and str(src) in err, err
    assert not out.exists()
