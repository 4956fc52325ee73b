"""Re-implementations of the reference (non-diffusion) cloud-removal networks."""
from .memorynet import MemoryNet  # noqa: F401
from .amgan_cr import AMGANCRGenerator  # noqa: F401
from .cvae import CVAE  # noqa: F401
from .msda_cr import MSDACRDiscriminator, MSDACRGenerator  # noqa: F401
from .spagan import PatchDiscriminator, SpAGANGenerator  # noqa: F401
from .uncrtaints import UnCRtainTS  # noqa: F401
