"""DSen2-CR's framework: the cloud-adaptive regularised loss (CARL) or plain L1.

CARL (Meraner et al., ISPRS J. 2020, Eq. 2–3), with a cloud/shadow mask m (1 = cloud
or shadow), prediction p, cloudy input x and target y, all C×H×W:

    L_CA   = mean(m · |p − y| + (1 − m) · |p − x|)     stay close to the input where it is clear
    L_CARL = L_CA + λ · mean(|p − y|)                  λ = 1 (target regularisation)

Means run over every band and pixel of the batch (N_tot = B·C·H·W). The loss and the
network work in the official units (optical: reflectance / 2000, i.e. crbench's
[-1, 1] ↦ [0, 5]; SAR: [0, 2]), so the official learning rate and converted official
weights apply unchanged.
"""
from typing import Dict, Sequence

import torch

from crbench.models.data_preprocessor import stack_field
from crbench.registry import MODELS
from .base import BaseRestorer
from .supervised import RangeMap, fold_time


@MODELS.register_module()
class DSen2CRRestorer(BaseRestorer):
    """DSen2-CR trained with CARL (needs ``mask`` in the data samples) or L1.

    Args:
        generator: the network config (``DSen2CR``); called as ``net(optical, sar)``.
        loss: 'carl' (paper, SEN12MS-CR) or 'l1' (mean |p − y|; the official L1
            variant, and what is left where no cloud mask can be computed).
        target_weight: λ of CARL.
        use_sar: feed ``inputs['sar']`` to the network.
        optical_range, sar_range: the network's units of crbench's [-1, 1].
        clamp_output: clamp predictions to [-1, 1].
    """

    def __init__(self, generator: dict, loss: str = 'carl', target_weight: float = 1.0,
                 use_sar: bool = True, optical_range: Sequence[float] = (0.0, 5.0),
                 sar_range: Sequence[float] = (0.0, 2.0), clamp_output: bool = True,
                 data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if loss not in ('carl', 'l1'):
            raise ValueError(f"DSen2CRRestorer loss must be 'carl' or 'l1', got {loss!r}")
        self.generator = MODELS.build(generator)
        self.loss_type, self.target_weight = loss, float(target_weight)
        self.use_sar, self.clamp_output = use_sar, clamp_output
        self.optical, self.sar = RangeMap(optical_range), RangeMap(sar_range)

    def network_output(self, inputs: Dict[str, torch.Tensor]):
        """(prediction, cloudy input), both in the network's optical units."""
        if 'cloudy' not in inputs or (self.use_sar and 'sar' not in inputs):
            need = ['cloudy', 'sar'] if self.use_sar else ['cloudy']
            raise KeyError(f'DSen2CRRestorer reads inputs {need} but the batch has '
                           f'{sorted(inputs)}; set use_sar=False for datasets without SAR')
        cloudy = self.optical.to_network(fold_time(inputs['cloudy']))
        sar = self.sar.to_network(fold_time(inputs['sar'])) if self.use_sar else None
        return self.generator(cloudy, sar), cloudy

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        pred, cloudy = self.network_output(inputs)
        target = self.optical.to_network(self.targets(data_samples))
        if pred.shape != target.shape:
            raise ValueError(f'network output {tuple(pred.shape)} does not match the target '
                             f'{tuple(target.shape)}; check optical_channels and the dataset bands')
        target_l1 = (pred - target).abs().mean()
        if self.loss_type == 'l1':
            return {'loss_l1': target_l1}
        if any(getattr(s, 'mask', None) is None for s in data_samples):
            raise KeyError("CARL needs a cloud mask in every data sample: add "
                           "dict(type='SentinelCloudShadowMask') to the train pipeline before "
                           "rescaling, or train with loss='l1'")
        mask = stack_field(data_samples, 'mask').to(pred.device)
        cloud_adaptive = (mask * (pred - target).abs() + (1 - mask) * (pred - cloudy).abs()).mean()
        return {'loss_cloud_adaptive': cloud_adaptive,
                'loss_target': self.target_weight * target_l1}

    def restore(self, inputs) -> torch.Tensor:
        pred = self.optical.from_network(self.network_output(inputs)[0])
        return pred.clamp(-1, 1) if self.clamp_output else pred
