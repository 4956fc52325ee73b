"""End-to-end restorers trained with pixel losses only (MemoryNet, CVAE-free baselines)."""
from typing import Dict, Optional, Sequence, Tuple

import torch

from crbench.registry import MODELS
from .base import BaseRestorer


def network_input(inputs: Dict[str, torch.Tensor], keys: Sequence[str]) -> torch.Tensor:
    """Concatenate the named inputs along channels (e.g. SAR + cloudy optical)."""
    missing = [k for k in keys if k not in inputs]
    if missing:
        raise KeyError(f'the model reads inputs {list(keys)} but the batch has only '
                       f'{sorted(inputs)}; check input_keys against the dataset pipeline')
    return torch.cat([inputs[k] for k in keys], dim=1)


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """B×T×C×H×W → B×(T·C)×H×W (frames stacked along channels); 4-D passes.

    Mono-temporal Sen2_MTC_New (``mono_temporal=j``) gives T = 1, so this is
    a plain squeeze there; single-image networks see B×C×H×W.
    """
    if x.dim() == 5:
        return x.flatten(1, 2)
    if x.dim() != 4:
        raise ValueError(f'expected a B×C×H×W or B×T×C×H×W input, got shape {tuple(x.shape)}')
    return x


def restorer_input(inputs: Dict[str, torch.Tensor], keys: Sequence[str]) -> torch.Tensor:
    """The network input: the named inputs, time folded into channels, concatenated."""
    missing = [k for k in keys if k not in inputs]
    if missing:
        raise KeyError(f'the model reads inputs {list(keys)} but the batch has only '
                       f'{sorted(inputs)}; check input_keys against the dataset pipeline')
    return network_input({k: fold_time(inputs[k]) for k in keys}, keys)


class RangeMap:
    """Linear map between crbench's [-1, 1] and a network's value range."""

    def __init__(self, network_range: Sequence[float]):
        lo, hi = (float(v) for v in network_range)
        if not hi > lo:
            raise ValueError(f'network_range must be (low, high) with high > low, got {network_range}')
        self.lo, self.hi = lo, hi

    def to_network(self, x: torch.Tensor) -> torch.Tensor:
        if (self.lo, self.hi) == (-1.0, 1.0):
            return x
        return self.lo + (x + 1) * (0.5 * (self.hi - self.lo))

    def from_network(self, y: torch.Tensor) -> torch.Tensor:
        if (self.lo, self.hi) == (-1.0, 1.0):
            return y
        return (y - self.lo) * (2.0 / (self.hi - self.lo)) - 1

    def as_tuple(self) -> Tuple[float, float]:
        return self.lo, self.hi


@MODELS.register_module()
class SupervisedRestorer(BaseRestorer):
    """A network trained end to end with a weighted sum of pixel losses.

    The network may return one image or a list of images (multi-stage
    networks such as MemoryNet return ``[stage3, stage2, stage1]``): every
    returned image is supervised with every loss (docs/models.md §1.1: Charbonnier on
    all stages + 0.05 edge loss on all stages) and the first is the prediction.

    Args:
        generator: config of the network (any registered ``nn.Module``).
        losses: name -> loss config; each loss is called as ``loss(pred, gt)``.
        loss_weights: name -> weight (default 1).
        input_keys: which ``inputs`` entries are concatenated as the network input.
        clamp_output: clamp predictions to [-1, 1] at inference (the official
            MemoryNet eval clamps to its [0, 1] range).
        network_range: the value range the network and losses see; (0, 1) for
            converted official weights, which were trained on [0, 1] images.
            Multi-temporal inputs (B×T×C×H×W) are folded into channels.
    """

    def __init__(self, generator: dict, losses: Dict[str, dict],
                 loss_weights: Optional[Dict[str, float]] = None,
                 input_keys: Sequence[str] = ('cloudy',), clamp_output: bool = True,
                 network_range: Sequence[float] = (-1.0, 1.0), data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.generator = MODELS.build(generator)
        self.losses = torch.nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in losses.items()})
        loss_weights = dict(loss_weights or {})
        unknown = set(loss_weights) - set(losses)
        if unknown:
            raise KeyError(f'loss_weights names {sorted(unknown)} that are not in losses '
                           f'{sorted(losses)}')
        self.loss_weights = {name: float(loss_weights.get(name, 1.0)) for name in losses}
        self.input_keys = tuple(input_keys)
        self.clamp_output = clamp_output
        self.range = RangeMap(network_range)

    def outputs(self, inputs) -> list:
        """Every image the network returns, in the network's range."""
        out = self.generator(self.range.to_network(restorer_input(inputs, self.input_keys)))
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        target = self.range.to_network(self.targets(data_samples))
        outputs = self.outputs(inputs)
        for out in outputs:
            if out.shape != target.shape:
                raise ValueError(f'network output {tuple(out.shape)} does not match the target '
                                 f'{tuple(target.shape)}; check in/out channels and image size')
        return {f'loss_{name}': self.loss_weights[name] * sum(fn(out, target) for out in outputs)
                for name, fn in self.losses.items()}

    def restore(self, inputs) -> torch.Tensor:
        pred = self.range.from_network(self.outputs(inputs)[0])
        return pred.clamp(-1, 1) if self.clamp_output else pred
