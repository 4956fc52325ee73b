"""``--cfg-options`` checks (crbench/apis.py): misspelt keys are refused before anything runs."""
import pytest

from crbench.apis import ConfigError, constructor_parameters, load_config

CONFIG = 'configs/memorynet/memorynet_cuhkcr2.py'


@pytest.fixture(autouse=True)
def _in_repo(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)


@pytest.mark.parametrize('key, value, suggestion', [
    ('train_cfg.max_iter', 10, 'max_iters'),                     # a loop (MMEngine LOOPS)
    ('default_hooks.checkpoint.intervl', 1, 'interval'),         # a hook taking **kwargs
    ('optim_wrapper.optimizer.lr2', 1e-3, "'lr'"),               # a torch optimizer
    ('optim_wrapper.clip_grads', None, 'clip_grad'),             # an optimizer wrapper
    ('model.generator.n_feats', 8, 'n_feat'),                    # a crbench network
    ('optim_wraper.lr', 1e-3, 'optim_wrapper'),                  # a key the config lacks
])
def test_misspelt_override_refused_with_suggestion(key, value, suggestion):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIG, {key: value})
    assert repr(key) in str(err.value) and suggestion in str(err.value)


@pytest.mark.parametrize('key, value', [
    ('train_cfg.max_iters', 10), ('train_cfg.val_begin', 2),            # existing / new loop arg
    ('default_hooks.checkpoint.save_last', False),                       # new hook argument
    ('default_hooks.checkpoint.priority', 'LOW'),                        # consumed by the Runner
    ('optim_wrapper.optimizer.amsgrad', True), ('optim_wrapper.clip_grad', None),
    ('model.generator.n_feat', 8),
])
def test_valid_overrides_accepted(key, value):
    node = load_config(CONFIG, {key: value})
    for part in key.split('.'):
        node = node[part]
    assert node == value  # accepted, and merged where the key says


def test_replaced_type_decides_the_arguments():
    config = 'configs/emrdm/emrdm_cuhkcr2.py'
    load_config(config, {'model.sampler.type': 'HeunSampler', 'model.sampler.num_steps': 4})
    with pytest.raises(ConfigError, match='HeunSampler'):
        load_config(config, {'model.sampler.type': 'HeunSampler', 'model.sampler.nfe': 4})
    # the keys the node keeps must suit the new type too, and the error says how to drop them
    with pytest.raises(ConfigError, match="EulerSampler .*takes no argument 's_churn'") as err:
        load_config(config, {'model.sampler.type': 'EulerSampler'})
    assert 'model.sampler._delete_=True' in str(err.value)


def test_delete_replaces_a_typed_node():
    config = 'configs/emrdm/emrdm_cuhkcr2.py'
    replace = {'model.sampler._delete_': True, 'model.sampler.type': 'DPMSolverPP2MSampler'}
    cfg = load_config(config, dict(replace, **{'model.sampler.num_steps': 10}))
    assert cfg.model.sampler.to_dict() == dict(type='DPMSolverPP2MSampler', num_steps=10)
    # the overrides make the whole node: each must be an argument of the new type
    with pytest.raises(ConfigError, match="'model.sampler.s_churn'.*takes no argument"):
        load_config(config, dict(replace, **{'model.sampler.s_churn': 1.0}))
    with pytest.raises(ConfigError, match='needs a type.*StochasticEulerSampler'):
        load_config(config, {'model.sampler._delete_': True, 'model.sampler.num_steps': 10})
    with pytest.raises(ConfigError, match='nothing to replace'):
        load_config(config, {'model.samplr._delete_': True, 'model.samplr.type': 'EulerSampler'})


def test_constructor_parameters_follow_kwargs():
    import torch
    from mmengine.hooks import CheckpointHook

    class Base(torch.nn.Module):
        def __init__(self, width=1):
            super().__init__()

    class Child(Base):
        def __init__(self, depth=2, **kwargs):
            super().__init__(**kwargs)

    assert constructor_parameters(Child) == (['depth', 'width'], False)
    names, open_ = constructor_parameters(CheckpointHook)
    assert 'interval' in names and open_  # its **kwargs go to save_checkpoint


@pytest.mark.parametrize('key', ['train_cfg.max_iter=10', 'default_hooks.checkpoint.intervl=1'])
def test_train_refuses_before_anything_runs(key, tmp_path, capsys):
    from crbench.commands.train import main
    work = tmp_path / 'work'
    code = main([CONFIG, '--work-dir', str(work), '--data-root', str(tmp_path / 'none'),
                 '--cfg-options', key])
    assert code == 2
    err = capsys.readouterr().err
    assert key.split('=')[0] in err and 'Did you mean' in err
    assert not work.exists()  # nothing dumped, nothing trained
