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
