"""Weight averaging for MMEngine's ``EMAHook``.

``WarmupEMA``: LitEma-style averaged model (decay_n = min(decay, (1 + n)/(10 + n)),
n = 1, 2, ... updates), as EMRDM trains with, so that validation and test run
on the EMA weights::

    custom_hooks = [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999)]
"""
from typing import Optional

import torch
from mmengine.model import BaseAveragedModel
from torch import Tensor, nn

from crbench.registry import MODELS


@MODELS.register_module()
class WarmupEMA(BaseAveragedModel):
    """EMA with LitEma's warm-up, for ``EMAHook(ema_type='WarmupEMA')``.

    Update n (n = 1, 2, ...): ``ema <- d_n ema + (1 - d_n) theta`` with
    ``d_n = min(decay, (1 + n) / (10 + n))`` (``warmup=False``: d_n = decay).
    Unlike MMEngine's EMA, the first update also averages (with d_1 = 2/11),
    starting from the weights the model had when the hook copied it. Only
    floating-point parameters are averaged; buffers follow the source model
    unless ``update_buffers``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True,
                 device: Optional[torch.device] = None, update_buffers: bool = False):
        super().__init__(model, interval=1, device=device, update_buffers=update_buffers)
        if not 0.0 < decay < 1.0:
            raise ValueError(f'decay must be in (0, 1), got {decay}')
        self.decay = float(decay)
        self.warmup = warmup

    def decay_at(self, n: int) -> float:
        """d_n = min(decay, (1 + n) / (10 + n)) for the n-th update (n >= 1)."""
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    def avg_func(self, averaged_param: Tensor, source_param: Tensor, steps: int) -> None:
        averaged_param.lerp_(source_param, 1.0 - self.decay_at(int(steps) + 1))

    def update_parameters(self, model: nn.Module) -> None:
        source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        steps = int(self.steps)
        for key, avg in self.avg_parameters.items():
            src = source[key].data.to(avg.device)
            if avg.dtype.is_floating_point:
                self.avg_func(avg.data, src, steps)
            else:
                avg.data.copy_(src)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1
