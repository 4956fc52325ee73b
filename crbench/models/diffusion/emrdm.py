"""EMRDM: mean-reverting EDM for cloud removal (Liu et al., CVPR 2025).

Pieces, each in one place:

* ``MeanRevertingEDM``: the forward process and the preconditioning, with
  s(t) = 1 / (1 + alpha t) and sigma(t) = t (so k = (1 - s)/s = alpha sigma):
  the perturbation (EMRDM Eq. 6), c_in, c_skip, c_out, c_noise (Eqs. 14-17),
  the loss weight lambda = 1 / c_out^2 (Eq. 18), and, once bound to a batch's
  mean mu with ``with_mean``, what the samplers of ``crbench.samplers.euler``
  need (Karras sigmas, Algorithm 3 start, Eq. 19 churn, Eq. 11 derivative).
* ``EMRDM``: the framework. D(x; sigma) = mean_l(c_skip x_l) + c_out F(...)
  (Eq. 13) around a network F (``HDiT`` or ``TemporalHDiT``) whose input is
  ``concat(c_in x_sigma, cond)`` along channels; training is Algorithm 1.
* ``WarmupEMA``: LitEma-style averaged model for MMEngine's ``EMAHook``
  (decay_n = min(decay, (1 + n)/(10 + n)), n = 1, 2, ... updates), so that
  validation and test run on the EMA weights::

      custom_hooks = [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999)]

Inputs (``inputs`` of a packed batch):

* ``cloudy`` B×C×H×W (mono-temporal) or B×L×C×H×W (multi-temporal). The mean
  mu is ``cloudy[..., mean_bands, :, :]`` (default: all bands; Sen2_MTC_New:
  the RGB of each frame), the condition ``cloudy[..., cond_bands, :, :]``
  (default: all bands; ``[]``: none, Table 2 config A).
* ``sar`` B×2×H×W (SEN12MS-CR), put in front of the condition:
  cond = concat(S1, cloudy S2), 15 bands, network input 13 + 15 = 28.
* the target x0 (``data_samples[i].gt``) must have mu's bands and size.

``alpha=0`` or ``mean_reverting=False`` is s(t) = 1, i.e. plain EDM with a
conditional network (Table 2 configs A-C); sigma_mu = sigma_cov = 0 turns
Eqs. 14-16 into EDM's preconditioning (Table 2 config D).
"""
import copy
import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseAveragedModel
from torch import Tensor, nn

from crbench.models.restorers.base import BaseRestorer
from crbench.registry import DIFFUSION_SAMPLERS, MODELS
from crbench.samplers.euler import karras_sigmas  # (also registers the EMRDM samplers)

Sigma = Union[float, Tensor]


def _log(sigma: Sigma) -> Sigma:
    return torch.log(sigma) if isinstance(sigma, Tensor) else math.log(sigma)


def per_sample(value: Sigma, ndim: int) -> Sigma:
    """A [B] tensor viewed as [B, 1, ..., 1] (``ndim`` dims); floats pass through."""
    if isinstance(value, Tensor) and value.dim() == 1:
        return value.view(-1, *([1] * (ndim - 1)))
    return value


class MeanRevertingEDM:
    """EMRDM's forward process and preconditioning (module docstring).

    Args:
        alpha: alpha of s(t) = 1 / (1 + alpha t).
        sigma_data: sigma_data (the official ``sigma_input``): std of x0.
        sigma_mu: std of the cloudy image mu.
        sigma_cov: covariance of x0 and mu (needs |sigma_cov| <= sigma_mu sigma_data).
        mean_reverting: False forces s(t) = 1 (k = 0): plain EDM.
        sigma_min, sigma_max, rho: the Karras sampling schedule (EDM Eq. 5).
    """

    def __init__(self, alpha: float = 3.0, sigma_data: float = 1.0, sigma_mu: float = 1.0,
                 sigma_cov: float = 0.9, mean_reverting: bool = True,
                 sigma_min: float = 0.001, sigma_max: float = 100.0, rho: float = 7.0):
        if alpha < 0:
            raise ValueError(f'alpha must be >= 0, got {alpha}')
        if sigma_data <= 0 or sigma_mu < 0:
            raise ValueError(f'need sigma_data > 0 and sigma_mu >= 0, got sigma_data='
                             f'{sigma_data}, sigma_mu={sigma_mu}')
        if abs(sigma_cov) > sigma_mu * sigma_data * (1 + 1e-9):
            raise ValueError(
                f'sigma_cov={sigma_cov} exceeds sigma_mu * sigma_data = {sigma_mu * sigma_data}: '
                'not a valid covariance, and c_out (EMRDM Eq. 16) would be imaginary at small '
                'sigma. Lower sigma_cov or raise sigma_mu.')
        karras_sigmas(1, sigma_min, sigma_max, rho)  # validates the schedule arguments
        self.alpha = float(alpha) if mean_reverting else 0.0
        self.mean_reverting = bool(mean_reverting)
        self.sigma_data = float(sigma_data)
        self.sigma_mu = float(sigma_mu)
        self.sigma_cov = float(sigma_cov)
        self.sigma_min, self.sigma_max, self.rho = float(sigma_min), float(sigma_max), float(rho)
        self.mean: Optional[Tensor] = None  # set by with_mean
        self.temporal = False

    # ---- schedule: s(t) = 1/(1 + alpha t), sigma(t) = t ----------------------
    def s(self, sigma: Sigma) -> Sigma:
        """s(t) = 1 / (1 + alpha t) (Algorithm 1 caption)."""
        return 1.0 / (1.0 + self.alpha * sigma)

    def k(self, sigma: Sigma) -> Sigma:
        """k = (1 - s) / s = alpha sigma: the mean-addition factor of EMRDM Eq. 6."""
        return self.alpha * sigma

    def dk(self, sigma: Sigma) -> float:
        """-s'(t) / s(t)^2 = dk/dt = alpha (EMRDM Eq. 11, first term)."""
        return self.alpha

    # ---- forward process and preconditioning --------------------------------
    def perturb(self, x0: Tensor, mu: Tensor, sigma: Sigma, noise: Tensor) -> Tensor:
        """x_sigma = x0 + k(sigma) mu + sigma n.  # EMRDM Eq. 6 / Alg. 1 line 6

        ``sigma`` is a float or a [B] tensor; with L frames, ``mu`` and
        ``noise`` are B×L×C×H×W and x0 (B×C×H×W) is shared by the frames.
        """
        if mu.dim() == x0.dim() + 1:
            x0 = x0.unsqueeze(1)
        sigma = per_sample(sigma, mu.dim())
        return x0 + self.k(sigma) * mu + sigma * noise

    def scalings(self, sigma: Sigma, num_frames: int = 1) -> Tuple[Sigma, Sigma, Sigma, Sigma]:
        """(c_skip, c_out, c_in, c_noise) at sigma for L = ``num_frames``.  # EMRDM Eqs. 14-17"""
        sd2, k = self.sigma_data ** 2, self.k(sigma)
        var_mu, cov = (k * self.sigma_mu) ** 2, k * self.sigma_cov
        var_l = sigma ** 2 / num_frames  # sigma^2 / L
        c_in = (sd2 + var_mu + sigma ** 2 + 2 * cov) ** -0.5  # Eq. 14
        c_skip = (sd2 + cov) / (sd2 + var_mu + var_l + 2 * cov)  # Eq. 15
        c_out = ((var_mu * sd2 + var_l * sd2 - cov ** 2)
                 / (sd2 + var_mu + var_l + 2 * cov)) ** 0.5  # Eq. 16
        c_noise = 0.25 * _log(sigma)  # Eq. 17
        return c_skip, c_out, c_in, c_noise

    def loss_weight(self, sigma: Sigma, num_frames: int = 1) -> Sigma:
        """lambda(sigma) = 1 / c_out(sigma)^2.  # EMRDM Eq. 18 (EDM's choice)"""
        sd2, k = self.sigma_data ** 2, self.k(sigma)
        var_mu, cov = (k * self.sigma_mu) ** 2, k * self.sigma_cov
        var_l = sigma ** 2 / num_frames
        return (sd2 + var_mu + var_l + 2 * cov) / (var_mu * sd2 + var_l * sd2 - cov ** 2)

    # ---- what the samplers need (after with_mean) -----------------------------
    def with_mean(self, mu: Tensor, temporal: Optional[bool] = None) -> 'MeanRevertingEDM':
        """A copy bound to a batch's mean mu (B×C×H×W, or B×L×C×H×W: temporal)."""
        bound = copy.copy(self)
        bound.mean = mu
        bound.temporal = mu.dim() == 5 if temporal is None else bool(temporal)
        return bound

    def _mu(self) -> Tensor:
        if self.mean is None:
            raise RuntimeError('this process has no mean mu: use process.with_mean(mu) before '
                               'handing it to a sampler')
        return self.mean

    def timesteps(self, num_steps: int) -> list:
        """Karras sigmas (EDM Eq. 5), sigma_max -> sigma_min, then 0."""
        return karras_sigmas(num_steps, self.sigma_min, self.sigma_max, self.rho).tolist()

    def prior(self, noise: Tensor, sigma: float) -> Tensor:
        """x ~ N(k(sigma) mu, sigma^2 I) from n ~ N(0, I).  # Alg. 3 line 3"""
        return self.k(sigma) * self._mu() + sigma * noise

    def churn(self, x: Tensor, sigma: float, sigma_hat: float, eps: Tensor) -> Tensor:
        """x_hat = x + (k(sigma_hat) - k(sigma)) mu + sqrt(sigma_hat^2 - sigma^2) eps.  # Eq. 19"""
        return x + (self.k(sigma_hat) - self.k(sigma)) * self._mu() \
            + (sigma_hat ** 2 - sigma ** 2) ** 0.5 * eps

    def derivative(self, x: Tensor, denoised: Tensor, sigma: float) -> Tensor:
        """dx/dt = dk mu - (D + k mu - x) / sigma for every frame.  # EMRDM Eq. 11"""
        mu = self._mu()
        return self.dk(sigma) * mu - (self.expand(denoised, x) + self.k(sigma) * mu - x) / sigma

    def expand(self, denoised: Tensor, like: Tensor) -> Tensor:
        """The denoiser's single image, broadcast to every frame of the state."""
        return denoised.unsqueeze(1).expand_as(like) if self.temporal else denoised


def _select_bands(cloudy: Tensor, bands: Optional[Sequence[int]], name: str) -> Tensor:
    if bands is None:
        return cloudy
    num = cloudy.shape[-3]
    bad = [b for b in bands if not -num <= b < num]
    if bad:
        raise ValueError(f'{name}={list(bands)} selects bands {bad} that inputs[\'cloudy\'] '
                         f'(shape {tuple(cloudy.shape)}, {num} bands) does not have')
    index = torch.as_tensor([b % num for b in bands], dtype=torch.long, device=cloudy.device)
    return cloudy.index_select(-3, index)


@MODELS.register_module()
class EMRDM(BaseRestorer):
    """EMRDM framework (see the module docstring).

    Args:
        network: config of F, ``forward(x, c_noise[B])``: ``HDiT`` (x B×C_in×H×W)
            or ``TemporalHDiT`` (x B×L×C_in×H×W; its ``(out, attn)`` output is
            reduced to ``out``). C_in = bands of mu + bands of the condition.
        alpha, sigma_data, sigma_mu, sigma_cov, mean_reverting: the process
            (``MeanRevertingEDM``); Table 5: 3.0, 1.0, 1.0, 0.9.
        p_mean, p_std: ln(sigma) ~ N(p_mean, p_std^2) in training (Alg. 1 line 2).
        sigma_min, sigma_max, rho: the sampling schedule (0.001, 100, 7).
        sampler: a ``DIFFUSION_SAMPLERS`` config (e.g. ``dict(type=
            'StochasticEulerSampler', num_steps=4, s_churn=2.5)``) or object.
        mean_bands: bands of ``inputs['cloudy']`` that form mu (None: all).
        cond_bands: bands of ``inputs['cloudy']`` in the condition (None: all,
            ``[]``: none).
        use_sar: put ``inputs['sar']`` (when present) in front of the condition.
        sampling_seed: if set, each ``restore`` call seeds its own generator.
    """

    def __init__(self,
                 network: dict,
                 alpha: float = 3.0,
                 sigma_data: float = 1.0,
                 sigma_mu: float = 1.0,
                 sigma_cov: float = 0.9,
                 mean_reverting: bool = True,
                 p_mean: float = -1.2,
                 p_std: float = 1.2,
                 sigma_min: float = 0.001,
                 sigma_max: float = 100.0,
                 rho: float = 7.0,
                 sampler: Union[dict, Callable, None] = None,
                 mean_bands: Optional[Sequence[int]] = None,
                 cond_bands: Optional[Sequence[int]] = None,
                 use_sar: bool = True,
                 sampling_seed: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if p_std < 0:
            raise ValueError(f'p_std must be >= 0, got {p_std}')
        self.process = MeanRevertingEDM(alpha, sigma_data, sigma_mu, sigma_cov, mean_reverting,
                                        sigma_min, sigma_max, rho)
        self.network = MODELS.build(network)
        self.p_mean, self.p_std = float(p_mean), float(p_std)
        self.mean_bands = None if mean_bands is None else list(mean_bands)
        self.cond_bands = None if cond_bands is None else list(cond_bands)
        self.use_sar = use_sar
        self.sampling_seed = sampling_seed
        if sampler is None:
            sampler = dict(type='EulerSampler', num_steps=5)
        self.sampler = DIFFUSION_SAMPLERS.build(sampler) if isinstance(sampler, dict) else sampler

    # ---- inputs ---------------------------------------------------------------
    def split_inputs(self, inputs: Dict[str, Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """(mu, cond) of a batch; cond is None when empty (module docstring)."""
        if not isinstance(inputs, dict) or 'cloudy' not in inputs:
            keys = list(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise KeyError(f"EMRDM needs inputs['cloudy'] (B x C x H x W or B x L x C x H x W); "
                           f'got {keys}')
        cloudy = inputs['cloudy']
        if cloudy.dim() not in (4, 5):
            raise ValueError("inputs['cloudy'] must be B x C x H x W or B x L x C x H x W, got "
                             f'shape {tuple(cloudy.shape)}')
        mu = _select_bands(cloudy, self.mean_bands, 'mean_bands')
        parts = []
        sar = inputs.get('sar')
        if sar is not None and self.use_sar:
            if sar.dim() != cloudy.dim() or sar.shape[-2:] != cloudy.shape[-2:] \
                    or sar.shape[:-3] != cloudy.shape[:-3]:
                raise ValueError(f"inputs['sar'] of shape {tuple(sar.shape)} does not match "
                                 f"inputs['cloudy'] of shape {tuple(cloudy.shape)}")
            parts.append(sar)
        cond = _select_bands(cloudy, self.cond_bands, 'cond_bands')
        if cond.shape[-3] > 0:
            parts.append(cond)
        return mu, (torch.cat(parts, dim=-3) if parts else None)

    # ---- EMRDM Eq. 13 ----------------------------------------------------------
    def denoise(self, x: Tensor, sigma: Tensor, cond: Optional[Tensor]) -> Tensor:
        """D(x; sigma) = mean_l(c_skip x_l) + c_out F(c_in x, c_noise; cond).  # EMRDM Eq. 13

        ``x``: B×C×H×W or B×L×C×H×W; ``sigma``: [B]. Returns B×C×H×W.
        """
        temporal = x.dim() == 5
        num_frames = x.shape[1] if temporal else 1
        c_skip, c_out, c_in, c_noise = self.process.scalings(sigma, num_frames)
        net_in = per_sample(c_in, x.dim()) * x
        if cond is not None:
            net_in = torch.cat([net_in, cond.to(net_in.dtype)], dim=-3)
        out = self.network(net_in, c_noise)
        if isinstance(out, (tuple, list)):  # TemporalHDiT: (image, attention maps)
            out = out[0]
        skip = per_sample(c_skip, x.dim()) * x
        if temporal:
            skip = skip.mean(dim=1)
        return skip + per_sample(c_out, out.dim()) * out

    # ---- training (Algorithm 1) ----------------------------------------------
    def sample_sigma(self, batch: int, like: Tensor) -> Tensor:
        """sigma = exp(N(P_mean, P_std^2)), one per sample.  # Alg. 1 lines 2-3"""
        return (self.p_mean + self.p_std * torch.randn(batch, device=like.device,
                                                       dtype=like.dtype)).exp()

    def diffusion_loss(self, x0: Tensor, mu: Tensor, cond: Optional[Tensor], sigma: Tensor,
                       noise: Tensor) -> Tensor:
        """E_b[lambda(sigma_b) mean_pixels (D - x0)^2] for given sigma [B] and noise.  # Eq. 18"""
        x = self.process.perturb(x0, mu, sigma, noise)  # Eq. 6, independent noise per frame
        denoised = self.denoise(x, sigma, cond)  # Eq. 13
        num_frames = mu.shape[1] if mu.dim() == 5 else 1
        weight = self.process.loss_weight(sigma, num_frames)  # lambda = 1 / c_out^2
        return (weight * (denoised - x0).pow(2).flatten(1).mean(dim=1)).mean()

    def _check_target(self, x0: Tensor, mu: Tensor) -> None:
        if x0.dim() != 4 or x0.shape[0] != mu.shape[0] or x0.shape[-3:] != mu.shape[-3:]:
            raise ValueError(
                f'the target gt has shape {tuple(x0.shape)} but the mean mu (bands '
                f"{self.mean_bands or 'all'} of inputs['cloudy']) has per-frame shape "
                f'{tuple(mu.shape[-3:])} for {mu.shape[0]} samples: EMRDM Eq. 6 adds them, so set '
                'mean_bands to the target\'s bands')

    def loss(self, inputs: Dict[str, Tensor], data_samples) -> Dict[str, Tensor]:
        mu, cond = self.split_inputs(inputs)
        x0 = self.targets(data_samples).to(mu)
        self._check_target(x0, mu)
        sigma = self.sample_sigma(x0.shape[0], x0)
        noise = torch.randn_like(mu)  # Alg. 1 line 5
        return dict(loss=self.diffusion_loss(x0, mu, cond, sigma, noise))

    # ---- inference ---------------------------------------------------------------
    def denoiser(self, cond: Optional[Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        """The sampler's ``denoiser(x, sigma[B]) -> D(x; sigma)`` for one batch."""
        return lambda x, sigma: self.denoise(x, sigma, cond)

    @torch.no_grad()
    def sample(self, inputs: Dict[str, Tensor], generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[dict], None]] = None,
               progress: bool = False) -> Tensor:
        """Run the sampler from n ~ N(0, I) (one draw per frame); returns B×C×H×W."""
        mu, cond = self.split_inputs(inputs)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.sampler(self.denoiser(cond), noise, self.process.with_mean(mu),
                            generator=generator, callback=callback, progress=progress)

    @torch.no_grad()
    def restore(self, inputs: Dict[str, Tensor]) -> Tensor:
        generator = None
        if self.sampling_seed is not None:
            device = inputs['cloudy'].device if isinstance(inputs, dict) and 'cloudy' in inputs \
                else 'cpu'
            generator = torch.Generator(device=device).manual_seed(self.sampling_seed)
        return self.sample(inputs, generator=generator)


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
