# populated as modules land
from . import networks  # noqa: F401  (registers the networks)
from .de import DiffusionEnhancement, GaussianDiffusion, linear_betas  # noqa: F401
from .emrdm import EMRDM, MeanRevertingEDM, WarmupEMA  # noqa: F401
