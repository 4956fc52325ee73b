from .base import BaseRestorer
from .supervised import RangeMap, SupervisedRestorer, fold_time, network_input, restorer_input

__all__ = ['BaseRestorer', 'SupervisedRestorer', 'network_input']
from .gan import GANRestorer, MultiOptimWrapperConstructor  # noqa: E402,F401
from .cvae import CVAERestorer  # noqa: E402,F401
__all__ += ['GANRestorer', 'MultiOptimWrapperConstructor', 'CVAERestorer']
from .uncertainty import DiagonalGaussianNLLLoss, UncertaintyRestorer  # noqa: E402,F401
