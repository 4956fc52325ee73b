from .dsen2cr import SentinelCloudShadowMask  # noqa: F401
from .flip_rotate import RandomFlipRotate90, flip_rotate
from .formatting import PackCRInputs, to_chw_tensor
from .geotiff import (LoadGeoTIFFBands, LoadTIFFBands, geotiff_header, read_geotiff,
                      read_hwc_tiff, tiff_header)
from .loading import ImageReadError, LoadCloudMask, LoadImageBands, read_band_stack, read_png
from .matlab_resize import matlab_imresize
from .crop_bands import PairedRandomCrop, RescaleBandsToSymmetric  # noqa: F401
from .processing import (MatlabResize, PairedRandomFlip, RescaleToSymmetric, SymmetricScaling,
                         scalings_from_pipeline)

__all__ = [
    'PackCRInputs', 'to_chw_tensor', 'ImageReadError', 'LoadCloudMask', 'LoadImageBands', 'read_band_stack',
    'read_png', 'matlab_imresize', 'MatlabResize', 'PairedRandomFlip',
    'RescaleToSymmetric', 'SymmetricScaling', 'scalings_from_pipeline',
    'RandomFlipRotate90', 'flip_rotate', 'LoadGeoTIFFBands', 'LoadTIFFBands', 'geotiff_header',
    'read_geotiff', 'read_hwc_tiff', 'tiff_header'
]
