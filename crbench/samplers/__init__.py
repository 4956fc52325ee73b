from .ddim import DDIMSampler  # noqa: F401
from .ddpm import DDPMSampler  # noqa: F401
