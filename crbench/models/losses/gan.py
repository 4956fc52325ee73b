"""Adversarial and auxiliary losses of the collection's reference models.

* Logistic (non-saturating) GAN loss of SpA-GAN and AMGAN-CR (docs/models.md §1.4, §1.5).
* WGAN terms and the WGAN-GP gradient penalty of MSDA-CR (§1.2).
* The KL term and the Laplacian edge term of CVAE (§1.3).

Loss weights (lamb, 0.05, 0.01, 0.18, ...) belong to the frameworks, except
the gradient penalty's λ, which is part of its definition here.
"""
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from crbench.registry import MODELS


def _same_shape(a: torch.Tensor, b: torch.Tensor, name: str) -> None:
    # Broadcasting two mismatched tensors would give a finite, wrong number.
    if a.shape != b.shape:
        raise ValueError(f'{name}: shapes must match, got {tuple(a.shape)} and {tuple(b.shape)}')


@MODELS.register_module()
class LogisticGANLoss(nn.Module):
    """``mean softplus(-logits)`` for a real target, ``mean softplus(logits)`` for fake.

    The softplus forms of the official losses: discriminator
    ``loss(D(real), True) + loss(D(fake), False)``, generator
    ``loss(D(fake), True)`` (non-saturating). ``logits`` are raw (no sigmoid),
    e.g. the patch map of :class:`PatchDiscriminator`; the mean over all
    entries equals the official sum / (batch · h · w) for a one-channel map.
    """

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        return F.softplus(-logits if target_is_real else logits).mean()


@MODELS.register_module()
class WGANGeneratorLoss(nn.Module):
    """``-mean D(G(x))``: the generator's WGAN term (MSDA-CR weights it by 0.05)."""

    def forward(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()


@MODELS.register_module()
class WGANCriticLoss(nn.Module):
    """``mean D(fake) - mean D(real)``: the critic's WGAN term (add the penalty)."""

    def forward(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return fake_scores.mean() - real_scores.mean()


@MODELS.register_module()
class WGANGradientPenalty(nn.Module):
    """``weight · mean_i (‖∇_x̂ D(x̂_i)‖₂ − 1)²`` at ``x̂ = α·real + (1−α)·fake``.

    One α per sample. ``interp='uniform'`` draws α ~ U[0, 1), the textbook
    WGAN-GP (points on the segment between the pair). ``interp='normal'``
    draws α ~ N(0, 1), which is what the official MSDA-CR code does (``randn``);
    its points are mostly *off* the segment (|α| > 1 about a third of the
    time). The gradient norm is over all of a sample's elements (C·H·W), and
    ``∇ D`` is the gradient of the sum of the critic's outputs, so a critic
    with several outputs per sample (MSDA-CR's flattened map) is handled as
    officially. The penalty is differentiable w.r.t. the critic's parameters
    (``create_graph``); ``real`` and ``fake`` are detached.
    """

    def __init__(self, weight: float = 10.0, interp: str = 'normal'):
        super().__init__()
        if interp not in ('normal', 'uniform'):
            raise ValueError(f"interp must be 'normal' (official MSDA-CR) or 'uniform', got {interp!r}")
        self.weight, self.interp = float(weight), interp

    def draw_alpha(self, real: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        draw = torch.randn if self.interp == 'normal' else torch.rand
        return draw(shape, generator=generator, device=real.device, dtype=real.dtype)

    def forward(self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                fake: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        _same_shape(real, fake, 'WGANGradientPenalty')
        alpha = self.draw_alpha(real, generator)
        x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        scores = critic(x)
        grad, = torch.autograd.grad(scores.sum(), x, create_graph=True)
        norms = grad.flatten(1).norm(2, dim=1)
        return self.weight * ((norms - 1) ** 2).mean()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, interp={self.interp!r}'


@MODELS.register_module()
class KLDivergenceLoss(nn.Module):
    """KL(N(mu, exp(logvar)) ‖ N(0, I)) = -½ Σ (1 + logvar − mu² − exp(logvar)).

    ``reduction='sum'`` sums over batch and latent dimensions, as the official
    CVAE (so its size grows with the batch); ``'batchmean'`` divides by the
    batch size.
    """

    def __init__(self, reduction: str = 'sum'):
        super().__init__()
        if reduction not in ('sum', 'batchmean'):
            raise ValueError(f"reduction must be 'sum' (official) or 'batchmean', got {reduction!r}")
        self.reduction = reduction

    def forward(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        _same_shape(mu, logvar, 'KLDivergenceLoss')
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return kl / mu.shape[0] if self.reduction == 'batchmean' else kl

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}'


@MODELS.register_module()
class LaplacianEdgeL1Loss(nn.Module):
    """CVAE's edge term: L1 between 3×3 8-neighbour Laplacian responses.

    Kernel ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]``, zero padding 1, each band
    filtered on its own; the L1 is the mean over all filtered elements.
    ``bands='first3'`` filters bands 0–2 only, as the official code (for
    CUHK-CR the NIR band gets no edge term); ``bands='all'`` filters every
    band, which equals the mean of per-band losses.
    """

    def __init__(self, bands: str = 'first3'):
        super().__init__()
        if bands not in ('first3', 'all'):
            raise ValueError(f"bands must be 'first3' (official) or 'all', got {bands!r}")
        self.bands = bands

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'LaplacianEdgeL1Loss expects B×C×H×W tensors, got {tuple(x.shape)}')
        if self.bands == 'first3':
            if x.shape[1] < 3:
                raise ValueError(f"bands='first3' needs at least 3 bands, got {x.shape[1]}; "
                                 "use bands='all'")
            x = x[:, :3]
        c = x.shape[1]
        k = torch.full((3, 3), -1.0, device=x.device, dtype=x.dtype)
        k[1, 1] = 8.0
        return F.conv2d(x, k.expand(c, 1, 3, 3), padding=1, groups=c)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _same_shape(pred, target, 'LaplacianEdgeL1Loss')
        return F.l1_loss(self.laplacian(pred), self.laplacian(target))

    def extra_repr(self) -> str:
        return f'bands={self.bands!r}'
