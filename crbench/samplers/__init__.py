from .base import (DiffusionSampler, outside_inference, progress_iter,  # noqa: F401
                   seeded_generator, step_pairs)
from .ddim import DDIMSampler  # noqa: F401
from .ddpm import DDPMSampler  # noqa: F401
from .dpm_solver import DPMSolverPP2MSampler, DPMSolverPP2MSDESampler  # noqa: F401
from .euler import EulerSampler, HeunSampler, StochasticEulerSampler  # noqa: F401
