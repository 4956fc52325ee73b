"""Small helpers shared by several test modules (``from helpers import n_params``).

``tests/`` is on ``sys.path`` because ``tests/conftest.py`` sits in a folder
without ``__init__.py`` (pytest's default ``prepend`` import mode).
"""
from torch import nn


def n_params(module: nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
