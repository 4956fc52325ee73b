from . import losses, reference  # noqa: F401  (networks and losses register themselves)
from . import diffusion, restorers  # noqa: F401
from .data_preprocessor import CRDataPreprocessor

__all__ = ['CRDataPreprocessor']
