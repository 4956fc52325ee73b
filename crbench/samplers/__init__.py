from .ddim import DDIMSampler  # noqa: F401
from .ddpm import DDPMSampler  # noqa: F401
from .euler import EulerSampler, HeunSampler, StochasticEulerSampler, karras_sigmas  # noqa: F401
