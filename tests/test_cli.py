"""The ``crbench`` command (crbench/cli.py) and its sub-commands (crbench/commands/)."""
import importlib
import importlib.util
import os.path as osp

import pytest

from crbench.cli import main
from crbench.commands import COMMANDS
from crbench.commands._common import CONFIG_DIR_ENV, resolve_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: tools/<script>.py -> the sub-command it wraps
TOOLS = {'train': 'train', 'test': 'test', 'leaderboard': 'leaderboard',
         'check_dataset': 'check-data', 'make_synthetic_data': 'synthetic', 'demo': 'demo',
         'model_index': 'zoo'}


def test_help_lists_every_command_with_a_summary(capsys):
    assert main(['--help']) == 0
    out = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert f'  {name}' in out and command.summary in out
        assert command.summary and '\n' not in command.summary


def test_no_command_or_unknown_command_exits_2(capsys):
    assert main([]) == 2
    assert 'usage: crbench' in capsys.readouterr().err
    assert main(['foo']) == 2
    err = capsys.readouterr().err
    assert "unknown command 'foo'" in err and 'error' in err
    assert main(['trian']) == 2
    assert "Did you mean 'train'?" in capsys.readouterr().err


@pytest.mark.parametrize('name', sorted(COMMANDS))
def test_subcommand_help_is_headed_crbench_name(name, capsys):
    assert main([name, '--help']) == 0
    assert capsys.readouterr().out.startswith(f'usage: crbench {name}')


def test_bad_arguments_exit_2(capsys):
    assert main(['train']) == 2  # CONFIG missing: argparse error
    assert 'crbench train: error' in capsys.readouterr().err
    assert main(['test', 'no/such/config.py', 'x.pth']) == 2
    assert 'no/such/config.py' in capsys.readouterr().err
    # every command that takes a config looks it up the same way (resolve_config)
    assert main(['benchmark', 'no/such/config.py']) == 2
    err = capsys.readouterr().err
    assert err.startswith('crbench benchmark: ') and CONFIG_DIR_ENV in err


@pytest.mark.parametrize('tool, name', sorted(TOOLS.items()))
def test_tools_are_thin_wrappers_of_the_same_command(tool, name):
    spec = importlib.util.spec_from_file_location(f'crbench_tool_cli_{tool}',
                                                  osp.join(REPO, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main is importlib.import_module(COMMANDS[name].module).main
    with open(osp.join(REPO, 'tools', f'{tool}.py'), encoding='utf-8') as f:
        assert len(f.read().splitlines()) < 20


def test_train_and_test_share_argument_parsing():
    from crbench.commands import test, train
    shared = ['--work-dir', 'w', '--data-root', 'd', '--launcher', 'none',
              '--cfg-options', 'a.b=1']
    a = vars(train.parse_args(['c.py'] + shared))
    b = vars(test.parse_args(['c.py', 'k.pth'] + shared))
    for key in ('work_dir', 'data_root', 'launcher', 'cfg_options', 'local_rank'):
        assert a[key] == b[key]
    assert a['cfg_options'] == {'a.b': 1}


def test_relative_config_paths_work_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    want = osp.join(REPO, 'configs', 'memorynet', 'memorynet_cuhkcr2.py')
    for path in ('memorynet/memorynet_cuhkcr2.py', 'configs/memorynet/memorynet_cuhkcr2.py'):
        assert osp.samefile(resolve_config(path), want)
    with pytest.raises(FileNotFoundError) as err:
        resolve_config('memorynet/nope.py')
    assert 'memorynet/nope.py' in str(err.value) and CONFIG_DIR_ENV in str(err.value)
    # a folder of one's own comes first
    own = tmp_path / 'mine' / 'memorynet'
    own.mkdir(parents=True)
    (own / 'memorynet_cuhkcr2.py').write_text('x = 1\n')
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / 'mine'))
    assert resolve_config('memorynet/memorynet_cuhkcr2.py') == str(own / 'memorynet_cuhkcr2.py')
    # an existing relative file is used as given
    (tmp_path / 'local.py').write_text('x = 1\n')
    assert resolve_config('local.py') == 'local.py'


def test_every_command_module_has_main_with_prog():
    import inspect
    for command in COMMANDS.values():
        module = importlib.import_module(command.module)
        assert 'prog' in inspect.signature(module.main).parameters, command.module


def test_synthetic_names_the_data_root_to_use(tmp_path, capsys):
    assert main(['synthetic', '--dataset', 'cuhk_cr2', '--out', str(tmp_path), '--train', '1',
                 '--test', '1', '--size', '16']) == 0
    out = capsys.readouterr().out
    data_root = out.split('--data-root ')[1].split()[0]
    assert data_root.endswith(osp.join('C-CUHK', 'CUHK-CR2')) and osp.isdir(data_root)
