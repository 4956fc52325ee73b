"""Converters from official checkpoints to crbench's framework layout (one module per
source family; ``tools/model_converters/*.py`` are their command lines)."""
from .common import (SOURCE_FORMATS, ConversionError, conversion_meta, detect_source_format,
                     read_state_dict, shorten)

__all__ = ['SOURCE_FORMATS', 'ConversionError', 'conversion_meta', 'detect_source_format',
           'read_state_dict', 'shorten']
