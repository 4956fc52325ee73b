from . import transforms  # noqa: F401
from .base import SYNTHETIC_MARKER, BaseCRDataset, DatasetLayoutError, read_synthetic_marker
from .cuhk_cr import CUHKCRDataset
from .rice import RICEDataset
from .sen12mscr import SEN12MSCRDataset
from .sen2mtc import Sen2MTCNewDataset

__all__ = [
    'SYNTHETIC_MARKER', 'BaseCRDataset', 'DatasetLayoutError', 'read_synthetic_marker',
    'CUHKCRDataset',
    'RICEDataset', 'SEN12MSCRDataset', 'Sen2MTCNewDataset'
]
