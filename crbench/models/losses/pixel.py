"""Pixel-wise losses."""
import torch
from torch import nn

from crbench.registry import MODELS


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str):
    # Silent broadcasting (e.g. B×C×H×W against C×H×W) would give a finite
    # but meaningless loss, so shapes must match exactly.
    if pred.shape != target.shape:
        raise ValueError(f'{name}: pred and target must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean(sqrt((pred - target)^2 + eps^2)): a smooth L1 with gradient defined at 0."""
    d = pred - target
    return torch.sqrt(d * d + eps * eps).mean()


@MODELS.register_module()
class CharbonnierLoss(nn.Module):
    """Charbonnier loss, mean over all elements.

    ``eps`` is squared inside the root, so the default 1e-3 adds 1e-6, as in
    MPRNet and the collection's MemoryNet. The loss is therefore never below
    ``eps`` (its value for identical inputs).
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        if eps <= 0:
            raise ValueError(f'CharbonnierLoss needs eps > 0 (keeps the gradient finite at 0), got {eps}')
        self.eps = float(eps)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, 'CharbonnierLoss')
        return charbonnier(pred, target, self.eps)

    def extra_repr(self) -> str:
        return f'eps={self.eps}'
