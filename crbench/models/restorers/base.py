"""Common behaviour of every crbench framework (restorers, DE, EMRDM)."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModel

from crbench.models.data_preprocessor import stack_field
from crbench.structures import CRDataSample


class BaseRestorer(BaseModel):
    """An MMEngine model that turns cloudy inputs into cloud-free predictions.

    Subclasses implement ``loss(inputs, data_samples) -> dict`` and
    ``restore(inputs) -> Tensor`` (the prediction, B×C×H×W in [-1, 1]).
    ``forward`` dispatches on MMEngine's three modes; ``predict`` fills
    ``pred`` of each data sample, so every framework is evaluated the same way.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None, init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='CRDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def forward(self, inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[CRDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.restore(inputs)
        raise ValueError(f"unknown forward mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def restore(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, inputs, data_samples) -> List[CRDataSample]:
        pred = self.restore(inputs)
        for sample, p in zip(data_samples, pred):
            sample.pred = p.detach()
        return data_samples

    @staticmethod
    def targets(data_samples) -> torch.Tensor:
        """The ground truth of a batch, B×C×H×W in [-1, 1]."""
        return stack_field(data_samples, 'gt')
