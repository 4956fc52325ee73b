from .base import BaseRestorer
from .supervised import RangeMap, SupervisedRestorer, fold_time, network_input, restorer_input

__all__ = ['BaseRestorer', 'SupervisedRestorer', 'network_input']
from .gan import GANRestorer, MultiOptimWrapperConstructor  # noqa: E402,F401
from .cvae import CVAERestorer  # noqa: E402,F401
__all__ += ['GANRestorer', 'MultiOptimWrapperConstructor', 'CVAERestorer']
from .dsen2cr import DSen2CRRestorer  # noqa: E402,F401
from .pmaa import PMAARestorer  # noqa: E402,F401
from .uncertainty import DiagonalGaussianNLLLoss, UncertaintyRestorer  # noqa: E402,F401
from .ctgan import CTGANRestorer  # noqa: E402,F401
__all__ += ['CTGANRestorer']
