"""EMRDM: mean-reverting EDM for cloud removal (Liu et al., CVPR 2025).

Pieces, each in one place:

* the process (``crbench.models.diffusion.processes.MeanRevertingEDM``): the
  perturbation (EMRDM Eq. 6), c_in, c_skip, c_out, c_noise (Eqs. 14-17), the
  loss weight lambda = 1 / c_out^2 (Eq. 18) and what the samplers need;
* ``EMRDM`` (here): the framework. D(x; sigma) = mean_l(c_skip x_l) + c_out
  F(...) (Eq. 13) around a network F (``HDiT`` or ``TemporalHDiT``) whose
  input is ``concat(c_in x_sigma, cond)`` along channels; training is
  Algorithm 1; sampling hands D and the process bound to the batch's mu to the
  configured sampler (``crbench.samplers``: Euler, Heun, DPM-Solver++, ...);
* the EMA of the weights (``crbench.engine.ema.WarmupEMA``) that validation and
  test run on::

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
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

import crbench.samplers  # noqa: F401  (registers the samplers)
from crbench.models.diffusion.common import (build_sampler, cloudy_of, outside_inference,
                                             seeded_generator, select_bands)
from crbench.models.diffusion.processes import MeanRevertingEDM, per_sample
from crbench.models.restorers.base import BaseRestorer
from crbench.registry import MODELS


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
        self.sampler = build_sampler(sampler, self.process)

    # ---- inputs ---------------------------------------------------------------
    def split_inputs(self, inputs: Dict[str, Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """(mu, cond) of a batch; cond is None when empty (module docstring)."""
        cloudy = cloudy_of(inputs, 'EMRDM')
        mu = select_bands(cloudy, self.mean_bands, 'mean_bands')
        parts = []
        sar = inputs.get('sar')
        if sar is not None and self.use_sar:
            if sar.dim() != cloudy.dim() or sar.shape[-2:] != cloudy.shape[-2:] \
                    or sar.shape[:-3] != cloudy.shape[:-3]:
                raise ValueError(f"inputs['sar'] of shape {tuple(sar.shape)} does not match "
                                 f"inputs['cloudy'] of shape {tuple(cloudy.shape)}")
            parts.append(sar)
        cond = select_bands(cloudy, self.cond_bands, 'cond_bands')
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

    def sample(self, inputs: Dict[str, Tensor], generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[dict], None]] = None,
               progress: bool = False) -> Tensor:
        """Run the sampler from n ~ N(0, I) (one draw per frame); returns B×C×H×W.

        Sampling runs under ``torch.inference_mode``; the result is an
        ordinary tensor (cloned outside it) unless the caller is itself in
        inference mode.
        """
        with torch.inference_mode():
            mu, cond = self.split_inputs(inputs)
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            out = self.sampler(self.denoiser(cond), noise, self.process.with_mean(mu),
                               generator=generator, callback=callback, progress=progress)
        return outside_inference(out)

    @torch.no_grad()
    def restore(self, inputs: Dict[str, Tensor]) -> Tensor:
        device = inputs['cloudy'].device if isinstance(inputs, dict) and 'cloudy' in inputs \
            else 'cpu'
        return self.sample(inputs, generator=seeded_generator(self.sampling_seed, device))
