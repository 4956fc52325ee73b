from .base import DiffusionSampler, progress_iter, step_pairs  # noqa: F401
from .ddim import DDIMSampler  # noqa: F401
from .ddpm import DDPMSampler  # noqa: F401
from .dpm_solver import DPMSolverPP2MSampler, DPMSolverPP2MSDESampler  # noqa: F401
from .euler import EulerSampler, HeunSampler, StochasticEulerSampler  # noqa: F401
