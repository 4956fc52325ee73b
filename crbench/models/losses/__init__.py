"""Losses (registered in ``crbench.registry.MODELS``)."""
from .edge import LaplacianEdgeLoss  # noqa: F401
from .pixel import CharbonnierLoss  # noqa: F401
from .gan import (KLDivergenceLoss, LaplacianEdgeL1Loss, LogisticGANLoss,  # noqa: F401
                  WGANCriticLoss, WGANGeneratorLoss, WGANGradientPenalty)
from .perceptual import VGGPerceptualLoss  # noqa: F401
