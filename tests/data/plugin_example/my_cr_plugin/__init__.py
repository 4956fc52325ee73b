"""A cloud-removal baseline that lives outside crbench (docs/adding_a_model.md).

Importing this package registers ``ResidualConvNet`` in crbench's MODELS
registry; a config lists the package in ``custom_imports`` so that the tools
import it before building the model.
"""
import torch
from torch import nn

from crbench.registry import MODELS


@MODELS.register_module()
class ResidualConvNet(nn.Module):
    """Predicts a correction of the cloudy image with a few convolutions.

    A plain network: B×bands×H×W in [-1, 1] in, the same shape out. The
    framework named in the config (``SupervisedRestorer``) owns the loss and
    the training step.
    """

    def __init__(self, bands: int = 4, width: int = 32, depth: int = 3):
        super().__init__()
        layers = [nn.Conv2d(bands, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, bands, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
