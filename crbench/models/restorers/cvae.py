"""The CVAE framework: Monte-Carlo averaged training and stochastic inference (docs/models.md §1.3)."""
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from crbench.registry import MODELS
from .base import BaseRestorer
from .gan import build_loss
from .supervised import RangeMap, restorer_input


@MODELS.register_module()
class CVAERestorer(BaseRestorer):
    """Train and test :class:`crbench.models.reference.CVAE` as the collection does.

    Training step (official): the generator is run ``num_samples`` times (10)
    on the same batch, each run with a fresh latent sample; the images, the
    means and the log-variances are averaged, and the loss is
    ``SmoothL1(β=0.5)(ȳ, gt) + 0.01 · KL(μ̄, log σ̄²) + 0.18 · edge(ȳ, gt)``,
    KL summed over batch and latent dimensions, edge = L1 of the 3×3
    Laplacian of the first three bands.

    Inference: the official test runs the model once, with a random latent
    (``test_samples=1``, the default, so repeated tests differ slightly).
    ``test_samples=N`` averages N stochastic predictions; ``test_sample=False``
    uses ``z = μ`` (deterministic, not official).

    Args:
        generator: the CVAE config; it returns ``((mu, logvar), image)`` and
            takes ``sample=`` (draw z or use mu).
        num_samples: forward passes averaged per training step.
        pixel_loss, kl_loss, edge_loss: loss configs (``None`` disables a term);
            ``pixel_loss`` may name a torch loss (``SmoothL1Loss``).
        loss_weights: ``dict(pixel=, kl=, edge=)`` (1, 0.01, 0.18).
        test_samples, test_sample: inference as above.
        input_keys: inputs concatenated (time folded) as the network input.
        network_range: range the network and losses work in; (0, 1) is the
            official one (the β of the SmoothL1 and the KL weight are tuned for it).
        clamp_output: clamp predictions to [-1, 1] (the output is the cloudy
            input plus a tanh residual and can leave the range).

    Logged: ``loss_pixel``, ``loss_kl``, ``loss_edge`` (weighted).
    """

    TERMS = ('pixel', 'kl', 'edge')

    def __init__(self, generator: dict, num_samples: int = 10,
                 pixel_loss: Optional[dict] = dict(type='SmoothL1Loss', beta=0.5),
                 kl_loss: Optional[dict] = dict(type='KLDivergenceLoss', reduction='sum'),
                 edge_loss: Optional[dict] = dict(type='LaplacianEdgeL1Loss', bands='first3'),
                 loss_weights: Optional[Dict[str, float]] = None,
                 test_samples: int = 1, test_sample: bool = True,
                 input_keys: Sequence[str] = ('cloudy',),
                 network_range: Sequence[float] = (0.0, 1.0), clamp_output: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if int(num_samples) < 1 or int(test_samples) < 1:
            raise ValueError(f'num_samples and test_samples must be >= 1, got {num_samples} '
                             f'and {test_samples}')
        weights = dict(pixel=1.0, kl=0.01, edge=0.18)
        unknown = set(loss_weights or {}) - set(self.TERMS)
        if unknown:
            raise KeyError(f'loss_weights names {sorted(unknown)}; the CVAE terms are {self.TERMS}')
        weights.update(loss_weights or {})
        self.generator = MODELS.build(generator)
        cfgs = dict(pixel=pixel_loss, kl=kl_loss, edge=edge_loss)
        if all(c is None for c in cfgs.values()):
            raise ValueError('CVAERestorer needs at least one of pixel_loss, kl_loss, edge_loss')
        self.losses = nn.ModuleDict({name: build_loss(cfg, f'{name}_loss')
                                     for name, cfg in cfgs.items() if cfg is not None})
        self.loss_weights = {name: float(weights[name]) for name in self.losses}
        self.num_samples, self.test_samples = int(num_samples), int(test_samples)
        self.test_sample = bool(test_sample)
        self.input_keys = tuple(input_keys)
        self.range = RangeMap(network_range)
        self.clamp_output = clamp_output

    def sample_mean(self, x: torch.Tensor, n: int, sample: bool = True):
        """Average of ``n`` forward passes: ((mean mu, mean logvar), mean image)."""
        mu = logvar = image = None
        for _ in range(n):
            (m, lv), y = self.generator(x, sample=sample)
            mu, logvar, image = ((m, lv, y) if image is None
                                 else (mu + m, logvar + lv, image + y))
        return (mu / n, logvar / n), image / n

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        target = self.range.to_network(self.targets(data_samples))
        x = self.range.to_network(restorer_input(inputs, self.input_keys))
        (mu, logvar), pred = self.sample_mean(x, self.num_samples)
        if pred.shape != target.shape:
            raise ValueError(f'CVAE output {tuple(pred.shape)} does not match the target '
                             f'{tuple(target.shape)}; check in_channels and input_keys')
        losses = {}
        for name, fn in self.losses.items():
            value = fn(mu, logvar) if name == 'kl' else fn(pred, target)
            losses[f'loss_{name}'] = self.loss_weights[name] * value
        return losses

    def restore(self, inputs) -> torch.Tensor:
        x = self.range.to_network(restorer_input(inputs, self.input_keys))
        n = self.test_samples if self.test_sample else 1
        _, image = self.sample_mean(x, n, sample=self.test_sample)
        pred = self.range.from_network(image)
        return pred.clamp(-1, 1) if self.clamp_output else pred
