from . import networks  # noqa: F401  (registers the networks)
from .de import DiffusionEnhancement  # noqa: F401
from .diffcr import DiffCR  # noqa: F401
from .emrdm import EMRDM  # noqa: F401
from .frozen_reference import FrozenReference  # noqa: F401
from .processes import GaussianDiffusion, MeanRevertingEDM, karras_sigmas, linear_betas  # noqa: F401
