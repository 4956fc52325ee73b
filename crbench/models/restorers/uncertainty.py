"""Restorers that predict a mean image and, optionally, its aleatoric variance (UnCRtainTS).

The network keeps the time axis (B×T×C×H×W; dates are not folded into channels) and works on
reflectances in [0, 1] multiplied by its ``scale_by``; losses are computed in those scaled
units, as in the official code (configs/uncrtaints/README.md).
"""
import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from crbench.registry import MODELS
from .base import BaseRestorer
from .gan import build_loss
from .supervised import RangeMap


@MODELS.register_module()
class DiagonalGaussianNLLLoss(nn.Module):
    """Negative log-likelihood of a Gaussian with diagonal covariance over the bands.

    Per pixel, with C bands, mean μ, variances σ² and target y (UnCRtainTS Eq. 3):
    ``½ (C·log 2π + Σ_c log σ²_c + Σ_c (y_c − μ_c)² / σ²_c)``; averaged over batch and
    pixels.
    The variances are floored at ``eps`` in the value only (the gradient passes as if
    unclamped), as in the official loss.

    ``batch_summed_logdet=True`` reproduces the official vectorised loss, which sums the
    log-determinant over the whole batch for every sample (its Mahalanobis term is per
    sample), i.e. weights Σ log σ² by the batch size; off by default (the paper's NLL).
    """

    def __init__(self, eps: float = 1e-8, full: bool = True, batch_summed_logdet: bool = False):
        super().__init__()
        self.eps, self.full, self.batch_summed_logdet = eps, full, batch_summed_logdet

    def forward(self, mean: torch.Tensor, target: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        if not (mean.shape == target.shape == var.shape):
            raise ValueError(f'DiagonalGaussianNLLLoss: mean {tuple(mean.shape)}, target '
                             f'{tuple(target.shape)} and variance {tuple(var.shape)} must match')
        if torch.any(var < 0):
            raise ValueError('DiagonalGaussianNLLLoss: negative variances')
        var = var + (var.clamp(min=self.eps) - var).detach()
        logdet = var.log().sum(dim=1)                                    # B×H×W
        if self.batch_summed_logdet:
            logdet = logdet.sum(dim=0, keepdim=True).expand_as(logdet)
        mahalanobis = ((target - mean) ** 2 / var).sum(dim=1)
        nll = 0.5 * (logdet + mahalanobis)
        if self.full:
            nll = nll + 0.5 * mean.shape[1] * math.log(2 * math.pi)
        return nll.mean()


@MODELS.register_module()
class UncertaintyRestorer(BaseRestorer):
    """A network predicting mean (and variance) of the cloud-free image (UnCRtainTS).

    Args:
        generator: the network; it takes B×T×C×H×W inputs in [0, 1]·``scale_by`` and
            returns B×(C + C_var)×H×W with a ``split(out) -> [mean, var or None]`` method
            and ``scale_by`` / ``var_channels`` attributes (``UnCRtainTS``).
        loss: ``dict(type='MSELoss')`` (the L2 models) or
            ``dict(type='DiagonalGaussianNLLLoss')`` (needs a variance head).
        input_keys: inputs concatenated along channels for every date, in this order (the
            official order is SAR, then optical). A 4-D input is one date; a single-date
            input (e.g. SAR) is repeated over the dates of a multi-temporal one.
        network_range: the range that maps to [0, 1] before ``scale_by`` ((0, 1): crbench's
            [-1, 1] to the official reflectances in [0, 1]).
        clamp_output: clamp predictions to [-1, 1].

    ``predict`` also writes ``pred_var``, the predicted variance per band in crbench's
    [-1, 1] units (squared), when the network has a variance head.
    """

    def __init__(self, generator: dict, loss: dict = dict(type='MSELoss'),
                 input_keys: Sequence[str] = ('cloudy', ),
                 network_range: Sequence[float] = (0.0, 1.0),
                 clamp_output: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.generator = MODELS.build(generator)
        for attr in ('scale_by', 'var_channels', 'split'):
            if not hasattr(self.generator, attr):
                raise TypeError(f'UncertaintyRestorer: the generator '
                                f'{type(self.generator).__name__} '
                                f'has no `{attr}` (use UnCRtainTS)')
        self.loss_fn = build_loss(loss, 'UncertaintyRestorer.loss')
        self.nll = isinstance(self.loss_fn, DiagonalGaussianNLLLoss)
        if self.nll and not self.generator.var_channels:
            raise ValueError('UncertaintyRestorer: DiagonalGaussianNLLLoss needs a variance head; '
                             "set the generator's covariance='diag' (or 'iso')")
        if not self.nll and self.generator.var_channels:
            raise ValueError(f'UncertaintyRestorer: the generator predicts variances but the loss '
                             f"{loss['type']} ignores them; use DiagonalGaussianNLLLoss or "
                             'covariance=None')
        self.loss_name = 'loss_nll' if self.nll else 'loss_l2' if loss['type'] == 'MSELoss' \
            else 'loss_pixel'
        self.input_keys = tuple(input_keys)
        self.range = RangeMap(network_range)
        self.clamp_output = clamp_output

    @property
    def scale_by(self) -> float:
        return float(self.generator.scale_by)

    def network_input(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """B×T×ΣC×H×W in the network's units."""
        missing = [k for k in self.input_keys if k not in inputs]
        if missing:
            raise KeyError(f'the model reads inputs {list(self.input_keys)} but the batch has only '
                           f'{sorted(inputs)}; check input_keys against the dataset pipeline')
        parts = []
        for key in self.input_keys:
            x = inputs[key]
            if x.dim() == 4:
                x = x[:, None]
            if x.dim() != 5:
                raise ValueError(f'input {key!r} must be B×C×H×W or B×T×C×H×W, '
                                 f'got {tuple(x.shape)}')
            parts.append(x)
        frames = max(p.shape[1] for p in parts)
        parts = [p.expand(-1, frames, -1, -1, -1) if p.shape[1] == 1 else p for p in parts]
        if any(p.shape[1] != frames for p in parts):
            raise ValueError(f'inputs {list(self.input_keys)} have different numbers of dates: '
                             f'{[p.shape[1] for p in parts]}')
        return self.scale_by * self.range.to_network(torch.cat(parts, dim=2))

    def outputs(self, inputs):
        """[mean, variance or None] in the network's (scaled) units."""
        return self.generator.split(self.generator(self.network_input(inputs)))

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        target = self.scale_by * self.range.to_network(self.targets(data_samples))
        mean, var = self.outputs(inputs)
        if mean.shape != target.shape:
            raise ValueError(f'network output {tuple(mean.shape)} does not match the target '
                             f'{tuple(target.shape)}; check in/out channels and image size')
        value = self.loss_fn(mean, target, var) if self.nll else self.loss_fn(mean, target)
        return {self.loss_name: value}

    def _to_crbench(self, mean: torch.Tensor) -> torch.Tensor:
        pred = self.range.from_network(mean / self.scale_by)
        return pred.clamp(-1, 1) if self.clamp_output else pred

    def restore(self, inputs) -> torch.Tensor:
        return self._to_crbench(self.outputs(inputs)[0])

    def variance(self, var: torch.Tensor) -> torch.Tensor:
        """Scaled network variances -> variances in crbench's [-1, 1] units."""
        return var * (2.0 / (self.range.hi - self.range.lo) / self.scale_by) ** 2

    @torch.no_grad()
    def predict(self, inputs, data_samples):
        mean, var = self.outputs(inputs)
        pred = self._to_crbench(mean)
        for i, sample in enumerate(data_samples):
            sample.pred = pred[i].detach()
            if var is not None:
                sample.set_field(self.variance(var[i]).detach(), 'pred_var')
        return data_samples
