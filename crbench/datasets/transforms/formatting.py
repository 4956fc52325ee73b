"""Packing arrays into the tensors and data sample every framework expects."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS
from crbench.structures import CRDataSample


def to_chw_tensor(array: np.ndarray) -> torch.Tensor:
    """H×W×C (or T×H×W×C) array to a C×H×W (or T×C×H×W) float32 tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return tensor.movedim(-1, -3).contiguous()


@TRANSFORMS.register_module()
class PackCRInputs(BaseTransform):
    """Pack a sample as ``{'inputs': {...}, 'data_samples': CRDataSample}``.

    Args:
        input_keys: result keys that become entries of ``inputs`` (channels last in,
            channels first out). ``cloudy`` must be one of them.
        gt_key: the key of the target; ``mask`` is packed when present.
        meta_keys: result keys copied into the data sample's metainfo.
    """

    def __init__(self, input_keys: Sequence[str] = ('cloudy',), gt_key: str = 'gt',
                 meta_keys: Sequence[str] = ('sample_id', 'cloudy_path', 'gt_path',
                                             'band_names', 'dataset', 'synthetic',
                                             'crs', 'transform', 'img_shape', 'flip')):
        self.input_keys, self.gt_key, self.meta_keys = tuple(input_keys), gt_key, tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {key: to_chw_tensor(results[key]) for key in self.input_keys}
        sample = CRDataSample(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if self.gt_key in results:
            sample.gt = to_chw_tensor(results[self.gt_key])
        if 'mask' in results:  # ground-truth cloud mask (RICE2): cloudy/clear metrics
            sample.mask = to_chw_tensor(results['mask'])
        return {'inputs': inputs, 'data_samples': sample}
