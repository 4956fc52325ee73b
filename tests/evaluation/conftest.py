"""Shared fixtures of the evaluation tests."""
import pytest
import torch

from crbench.evaluation import ALEXNET_ENV_VAR


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No AlexNet weights anywhere: no env var and an empty torch hub dir."""
    monkeypatch.delenv(ALEXNET_ENV_VAR, raising=False)
    hub = tmp_path / 'hub'
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(hub))
    return hub
