"""crbench/models/diffusion/common.py: building a framework's sampler from its config.

Named apart from tests/converters/test_common.py: test folders are not packages, so
basenames must be unique."""
import argparse

import pytest
from mmengine.config import Config, DictAction

from crbench.models.diffusion.common import build_sampler
from crbench.models.diffusion.processes import GaussianDiffusion, MeanRevertingEDM
from crbench.samplers import DPMSolverPP2MSampler, EulerSampler, StochasticEulerSampler

EMRDM_CONFIG = 'configs/emrdm/emrdm_cuhkcr2.py'


def _sampler_cfg(repo_root, *options):
    """``model.sampler`` of the EMRDM CUHK-CR2 config after ``--cfg-options options``, merged
    the way tools/test.py merges them."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(f'{repo_root}/{EMRDM_CONFIG}')
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg.model.sampler


def test_the_config_sampler_builds(repo_root):
    sampler = build_sampler(_sampler_cfg(repo_root, 'model.sampler.num_steps=6'),
                            MeanRevertingEDM(alpha=3.0), 'EMRDM')
    assert isinstance(sampler, StochasticEulerSampler) and sampler.num_steps == 6


def test_switching_the_type_only_names_the_leftover_keys_and_the_fix(repo_root):
    cfg = _sampler_cfg(repo_root, 'model.sampler.type=DPMSolverPP2MSampler')
    assert 's_churn' in cfg  # merged into the config's stochastic Euler dict
    with pytest.raises(TypeError) as info:
        build_sampler(cfg, MeanRevertingEDM(alpha=3.0), 'EMRDM')
    message = str(info.value)
    assert 'EMRDM' in message and 'DPMSolverPP2MSampler' in message
    assert "does not take ['s_churn', 's_tmax', 's_tmin']" in message  # s_noise it takes
    assert 'model.sampler._delete_=True' in message


def test_the_documented_replacement_builds(repo_root):
    cfg = _sampler_cfg(repo_root, 'model.sampler._delete_=True',
                       'model.sampler.type=DPMSolverPP2MSampler', 'model.sampler.num_steps=10')
    sampler = build_sampler(cfg, MeanRevertingEDM(alpha=3.0), 'EMRDM')
    assert isinstance(sampler, DPMSolverPP2MSampler) and sampler.num_steps == 10


def test_unknown_sampler_name_lists_the_registered_ones():
    with pytest.raises(KeyError) as info:
        build_sampler(dict(type='DPMSolver3M'), MeanRevertingEDM(), 'DE')
    assert 'DPMSolver3M' in str(info.value) and 'DPMSolverPP2MSampler' in str(info.value)


def test_a_wrong_pairing_fails_at_build_time():
    with pytest.raises(TypeError, match='EulerSampler'):
        build_sampler(dict(type='EulerSampler', num_steps=4), GaussianDiffusion.linear(1000), 'DE')
    sampler = EulerSampler(4)  # an object is checked too
    assert build_sampler(sampler, MeanRevertingEDM(), 'EMRDM') is sampler
