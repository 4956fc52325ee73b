"""Batches packed samples and moves them to the model's device."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseDataPreprocessor

from crbench.registry import MODELS


@MODELS.register_module()
class CRDataPreprocessor(BaseDataPreprocessor):
    """Stack every input tensor of a batch and move it to the model's device.

    A packed sample carries ``inputs`` as a dict of named tensors (``cloudy``,
    and optionally ``sar``), already scaled to [-1, 1] by the dataset's
    pipeline, because only the dataset knows its units (DN, dB, uint8) and its
    clipping rules. This preprocessor therefore only batches, casts to float32
    and moves; it also refuses non-finite inputs with a message naming the files.
    """

    def __init__(self, check_finite: bool = True, non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        self.check_finite = check_finite

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        samples: Optional[List] = data.get('data_samples')
        if isinstance(inputs, (list, tuple)):  # a plain tensor per sample
            inputs = {'cloudy': inputs}
        batched: Dict[str, torch.Tensor] = {}
        for key, value in inputs.items():
            tensor = torch.stack(list(value)) if isinstance(value, (list, tuple)) else value
            tensor = tensor.float()
            if self.check_finite and not torch.isfinite(tensor).all():
                names = [s.metainfo.get('cloudy_path', '?') for s in samples or []]
                raise ValueError(
                    f'non-finite values in input {key!r} of the batch {names}; the dataset '
                    'pipeline must replace NaN/inf (see the dataset\'s nan_value option)')
            batched[key] = tensor
        return {'inputs': batched, 'data_samples': samples}


def stack_field(data_samples, field: str) -> torch.Tensor:
    """Stack one tensor field (``gt``, ``mask``) of a list of data samples."""
    return torch.stack([getattr(s, field) for s in data_samples]).float()
