"""Re-implementations of the reference (non-diffusion) cloud-removal networks."""
from .memorynet import MemoryNet  # noqa: F401
from .amgan_cr import AMGANCRGenerator  # noqa: F401
from .cvae import CVAE  # noqa: F401
from .msda_cr import MSDACRDiscriminator, MSDACRGenerator  # noqa: F401
from .spagan import PatchDiscriminator, SpAGANGenerator  # noqa: F401
from .dsen2cr import DSen2CR  # noqa: F401
from .stgan import STGANDiscriminator, STGANGenerator  # noqa: F401
from .uncrtaints import UnCRtainTS  # noqa: F401
from .glf_cr import GLFCR  # noqa: F401
from .ctgan import CTGANDiscriminator, CTGANFeatureExtractor, CTGANGenerator  # noqa: F401
from .pix2pix import Pix2PixPatchDiscriminator, Pix2PixUNetGenerator  # noqa: F401
