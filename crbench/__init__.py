"""crbench: a benchmarking toolkit for cloud removal in optical remote sensing."""
from .version import __version__
from . import engine  # noqa: F401  (installs the MMEngine/torch compatibility shims)

__all__ = ['__version__']
