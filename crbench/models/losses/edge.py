"""Laplacian-pyramid edge loss of MPRNet, for any number of bands."""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS
from .pixel import _check_pair, charbonnier

# 1-D binomial-like taps; their outer product is the 5x5 blur. They sum to 1,
# so the blur preserves the mean and the zero-stuffed image needs a factor 4.
_TAPS = (0.05, 0.25, 0.4, 0.25, 0.05)


@MODELS.register_module()
class LaplacianEdgeLoss(nn.Module):
    """Charbonnier distance between one-level Laplacian residuals.

    For each image: ``blur`` (5x5 kernel from the taps above, replicate
    padding), keep every second pixel in H and W, put those samples back on
    a zero grid scaled by 4, ``blur`` again and subtract the result from the
    image. The loss is ``mean(sqrt((L(pred) - L(target))^2 + eps^2))``.

    Relation to the official loss: MPRNet's (and the collection's MemoryNet)
    ``EdgeLoss`` hard-codes a depthwise kernel for exactly 3 channels, so it
    fails with a groups mismatch for 4-band CUHK-CR or 13-band Sentinel-2
    data. Here the depthwise kernel is built for the channel count of the
    input at call time. Because the filter is depthwise (each band filtered
    on its own with the same kernel) and the Charbonnier term is averaged over
    all elements, the loss for C bands is the mean of the per-band losses:
    for 3 bands it equals the official value, for other counts it is the
    natural extension, and it does not depend on the band order.
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        if eps <= 0:
            raise ValueError(f'LaplacianEdgeLoss needs eps > 0, got {eps}')
        self.eps = float(eps)
        # Kernels are tiny and derived, so they are cached instead of stored
        # as buffers: nothing lands in checkpoints and any band count works.
        self._kernels: Dict[Tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    def _kernel(self, channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (channels, device, dtype)
        k = self._kernels.get(key)
        if k is None:
            t = torch.tensor(_TAPS, dtype=torch.float64)
            k = torch.outer(t, t).to(device=device, dtype=dtype)
            k = k.expand(channels, 1, 5, 5).contiguous()
            self._kernels[key] = k
        return k

    def _blur(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (2, 2, 2, 2), mode='replicate')
        return F.conv2d(x, kernel, groups=x.shape[1])

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """The one-level Laplacian residual of a B×C×H×W tensor (same shape)."""
        if x.dim() != 4:
            raise ValueError(f'LaplacianEdgeLoss expects B×C×H×W tensors, got shape {tuple(x.shape)}')
        kernel = self._kernel(x.shape[1], x.device, x.dtype)
        blurred = self._blur(x, kernel)
        stuffed = torch.zeros_like(blurred)
        stuffed[:, :, ::2, ::2] = 4 * blurred[:, :, ::2, ::2]
        return x - self._blur(stuffed, kernel)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, 'LaplacianEdgeLoss')
        return charbonnier(self.laplacian(pred), self.laplacian(target), self.eps)

    def extra_repr(self) -> str:
        return f'eps={self.eps}'
