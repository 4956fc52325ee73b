"""crbench/models/diffusion/common.py: building a framework's sampler.

Named apart from tests/converters/test_common.py: test folders are not packages, so
basenames must be unique. Config keys of ``model.sampler`` are checked by the tools
(tests/test_apis.py)."""
import pytest

from crbench.apis import load_config
from crbench.models.diffusion.common import build_sampler
from crbench.models.diffusion.processes import GaussianDiffusion, MeanRevertingEDM
from crbench.samplers import DPMSolverPP2MSampler, EulerSampler, StochasticEulerSampler

EMRDM_CONFIG = 'configs/emrdm/emrdm_cuhkcr2.py'


@pytest.mark.parametrize('options, cls, steps', [
    ({}, StochasticEulerSampler, 4),
    ({'model.sampler._delete_': True, 'model.sampler.type': 'DPMSolverPP2MSampler',
      'model.sampler.num_steps': 10}, DPMSolverPP2MSampler, 10),
])
def test_the_config_sampler_builds_as_the_tools_load_it(repo_root, monkeypatch, options, cls,
                                                        steps):
    monkeypatch.chdir(repo_root)
    cfg = load_config(EMRDM_CONFIG, options)
    sampler = build_sampler(cfg.model.sampler, MeanRevertingEDM(alpha=3.0))
    assert type(sampler) is cls and sampler.num_steps == steps


def test_a_wrong_pairing_fails_at_build_time():
    # Euler integrates EMRDM's process; DE's Gaussian diffusion has no sigma schedule for it
    with pytest.raises(TypeError, match='EulerSampler.*GaussianDiffusion'):
        build_sampler(dict(type='EulerSampler', num_steps=4), GaussianDiffusion.linear(1000))
    with pytest.raises(TypeError, match='EulerSampler.*GaussianDiffusion'):
        build_sampler(EulerSampler(4), GaussianDiffusion.linear(1000))  # objects too
    sampler = EulerSampler(4)
    assert build_sampler(sampler, MeanRevertingEDM()) is sampler
