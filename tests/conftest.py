"""Shared test setup: one CPU thread per test process, crbench registries ready."""
import os

import pytest
import torch

# The development and CI machines have 2 cores: more threads than that only
# slows small test workloads down (measured 10-40x under load). This holds for
# the whole session: test modules need no thread fixture of their own.
torch.set_num_threads(1)
os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(scope='session', autouse=True)
def crbench_scope():
    from crbench.setup_env import register_all_modules
    register_all_modules()


@pytest.fixture
def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def restore_determinism():
    """``randomness.deterministic=True`` (a Runner's, or ``torch.use_deterministic_algorithms``)
    is process-wide: undo it for later tests."""
    state = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(state[0], warn_only=state[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = state[2:]
