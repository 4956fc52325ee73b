from .base import BaseRestorer
from .supervised import SupervisedRestorer, network_input

__all__ = ['BaseRestorer', 'SupervisedRestorer', 'network_input']
