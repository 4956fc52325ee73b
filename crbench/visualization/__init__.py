from . import attention  # noqa: F401  (registers TFSAAttentionHook)
from . import uncertainty  # noqa: F401  (registers UncertaintyMapHook)
from .grids import comparison_grid, display_bands

__all__ = ['comparison_grid', 'display_bands']
