"""DiffCR: fast conditional diffusion for cloud removal (Zou et al., TGRS 2024).

Pieces, each in one place:

* the network (``crbench.models.diffusion.networks.DiffCRNAFNet``): predicts x0
  from the noisy image, the noise level and the cloudy frames;
* the processes (``crbench.models.diffusion.processes``): training perturbs with
  the DDPM process (``GaussianDiffusion``) of a sigmoid schedule
  (``sigmoid_betas``, T = 2000); sampling reads the test schedule (sigmoid,
  T = 1000) in DPM-Solver's continuous time (``InterpolatedVP``);
* ``DiffCR`` (here): the framework. Training (Palette-style, as the official
  code): t ~ U{1..T-1}, a continuous noise level gamma ~ U(abar_{t-1}, abar_t),
  y = sqrt(gamma) x0 + sqrt(1 - gamma) n, loss = MSE(F(y, gamma, cond), x0).
  Sampling hands the x0 denoiser to the configured sampler; the official fast
  sampler is DPM-Solver++(2M) on 20 time-uniform steps plus a final denoising
  step (``DPMSolverPP2MSampler(num_steps=20, spacing='process')`` on
  ``InterpolatedVP``), with Imagen's dynamic thresholding of x0 (ratio 0.995).

What the network sees as its noise level at sampling (``sampling_noise_input``):
the official sampler wraps the network as a discrete-time model, so it is fed
DPM-Solver's model time 1000 (t - 1/N) (0 ... 999), not gamma as in training;
``'model_time'`` (default) reproduces that, so converted official weights give the
official outputs; ``'gamma'`` feeds abar(t) as in training.

Inputs (``inputs`` of a packed batch): ``cloudy`` B×L×C×H×W (Sen2_MTC_New: three
dates) or B×C×H×W (one date); ``cond_bands`` selects the bands of every frame the
condition keeps (Sen2_MTC_New: RGB). ``sar`` B×2×H×W (SEN12MS-CR), when present and
``use_sar``, is put in front of the bands of a single-date condition. The target
gt is B×C×H×W in [-1, 1].
"""
from typing import Callable, Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

import crbench.samplers  # noqa: F401  (registers the samplers)
from crbench.models.diffusion.common import (build_sampler, cloudy_of, outside_inference,
                                             seeded_generator, select_bands)
from crbench.models.diffusion.processes import GaussianDiffusion, InterpolatedVP, sigmoid_betas
from crbench.models.restorers.base import BaseRestorer
from crbench.registry import MODELS


def dynamic_threshold(x0: Tensor, ratio: float, max_value: float = 1.0) -> Tensor:
    """Imagen's dynamic thresholding: s = max(quantile_ratio(|x0|), max_value) per sample,
    x0 -> clamp(x0, -s, s) / s (so an x0 inside [-1, 1] is left as it is)."""
    s = torch.quantile(x0.abs().flatten(1).float(), ratio, dim=1).to(x0.dtype)
    s = s.clamp(min=max_value).view(-1, *([1] * (x0.dim() - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


@MODELS.register_module()
class DiffCR(BaseRestorer):
    """DiffCR framework (see the module docstring).

    Args:
        network: config of ``DiffCRNAFNet`` (``forward(x, gamma, cond)``).
        train_timesteps, test_timesteps: T of the sigmoid schedules of training and
            sampling (official: 2000 and 1000).
        sampler: a ``DIFFUSION_SAMPLERS`` config or object (default: the official
            DPM-Solver++(2M), 20 time-uniform steps).
        threshold_ratio: dynamic-thresholding quantile (None: off).
        sampling_noise_input: ``'model_time'`` or ``'gamma'`` (module docstring).
        cond_bands: bands of each cloudy frame kept for the condition (None: all).
        use_sar: put ``inputs['sar']`` in front of a single-date condition.
        sampling_seed: if set, each ``restore`` call seeds its own generator.
    """

    def __init__(self,
                 network: dict,
                 train_timesteps: int = 2000,
                 test_timesteps: int = 1000,
                 sampler: Union[dict, Callable, None] = None,
                 threshold_ratio: Optional[float] = 0.995,
                 sampling_noise_input: str = 'model_time',
                 cond_bands: Optional[Sequence[int]] = None,
                 use_sar: bool = True,
                 sampling_seed: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if sampling_noise_input not in ('model_time', 'gamma'):
            raise ValueError("sampling_noise_input must be 'model_time' or 'gamma', got "
                             f'{sampling_noise_input!r}')
        if threshold_ratio is not None and not 0 < threshold_ratio <= 1:
            raise ValueError(f'threshold_ratio must be in (0, 1] or None, got {threshold_ratio}')
        self.network = MODELS.build(network)
        self.train_process = GaussianDiffusion(sigmoid_betas(train_timesteps))
        self.process = InterpolatedVP(sigmoid_betas(test_timesteps))
        if sampler is None:
            sampler = dict(type='DPMSolverPP2MSampler', num_steps=20, spacing='process')
        self.sampler = build_sampler(sampler, self.process)
        self.threshold_ratio = threshold_ratio
        self.sampling_noise_input = sampling_noise_input
        self.cond_bands = None if cond_bands is None else list(cond_bands)
        self.use_sar = use_sar
        self.sampling_seed = sampling_seed

    # ---- inputs ---------------------------------------------------------------
    def condition(self, inputs: Dict[str, Tensor]) -> Tensor:
        """The condition frames, B×L×C×H×W (module docstring)."""
        cloudy = cloudy_of(inputs, 'DiffCR')
        cloudy = select_bands(cloudy, self.cond_bands, 'cond_bands')
        sar = inputs.get('sar')
        if sar is not None and self.use_sar:
            if cloudy.dim() != 4 or sar.shape[0] != cloudy.shape[0] \
                    or sar.shape[-2:] != cloudy.shape[-2:]:
                raise ValueError(f"inputs['sar'] of shape {tuple(sar.shape)} does not fit "
                                 f"inputs['cloudy'] of shape {tuple(cloudy.shape)} (DiffCR puts "
                                 'SAR in front of a single-date condition)')
            cloudy = torch.cat([sar.to(cloudy), cloudy], dim=1)
        return cloudy if cloudy.dim() == 5 else cloudy.unsqueeze(1)

    def predict_x0(self, y: Tensor, noise_level: Tensor, cond: Tensor) -> Tensor:
        h, w = y.shape[-2:]
        return self.network(y, noise_level, cond)[..., :h, :w]  # the network pads to 2^depth

    # ---- training ---------------------------------------------------------------
    def sample_gamma(self, batch: int, like: Tensor) -> Tensor:
        """gamma ~ U(abar_{t-1}, abar_t), t ~ U{1, ..., T-1}: a continuous noise level."""
        abar = self.train_process.alphas_cumprod
        t = torch.randint(1, self.train_process.num_timesteps, (batch,))
        lo, hi = abar[t - 1], abar[t]
        gamma = lo + (hi - lo) * torch.rand(batch, dtype=torch.float64)
        return gamma.to(device=like.device, dtype=like.dtype)

    def diffusion_loss(self, x0: Tensor, cond: Tensor, gamma: Tensor, noise: Tensor) -> Tensor:
        g = gamma.view(-1, 1, 1, 1)
        y = g.sqrt() * x0 + (1 - g).sqrt() * noise
        return F.mse_loss(self.predict_x0(y, gamma, cond), x0)

    def loss(self, inputs: Dict[str, Tensor], data_samples) -> Dict[str, Tensor]:
        cond = self.condition(inputs)
        x0 = self.targets(data_samples).to(cond)
        if x0.dim() != 4 or x0.shape[0] != cond.shape[0] or x0.shape[-2:] != cond.shape[-2:]:
            raise ValueError(f'the target gt has shape {tuple(x0.shape)}, the condition '
                             f'{tuple(cond.shape)}: they must share batch and size')
        gamma = self.sample_gamma(x0.shape[0], x0)
        return dict(loss=self.diffusion_loss(x0, cond, gamma, torch.randn_like(x0)))

    # ---- inference --------------------------------------------------------------
    def denoiser(self, cond: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """The sampler's ``denoiser(x, t[B]) -> x0_hat`` for one batch."""
        def denoise(x: Tensor, t: Tensor) -> Tensor:
            if self.sampling_noise_input == 'model_time':
                level = self.process.model_time(t)
            else:
                level = torch.full_like(t, self.process.alpha_bar(float(t[0])))
            x0 = self.predict_x0(x, level, cond)
            if self.threshold_ratio is not None:
                x0 = dynamic_threshold(x0, self.threshold_ratio)
            return x0
        return denoise

    def out_channels(self) -> int:
        return self.network.head.out_channels

    def sample(self, inputs: Dict[str, Tensor], generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[dict], None]] = None,
               progress: bool = False) -> Tensor:
        with torch.inference_mode():
            cond = self.condition(inputs)
            shape = (cond.shape[0], self.out_channels(), *cond.shape[-2:])
            noise = torch.randn(shape, generator=generator, device=cond.device, dtype=cond.dtype)
            out = self.sampler(self.denoiser(cond), noise, self.process, generator=generator,
                               callback=callback, progress=progress)
        return outside_inference(out)

    @torch.no_grad()
    def restore(self, inputs: Dict[str, Tensor]) -> Tensor:
        device = inputs['cloudy'].device if isinstance(inputs, dict) and 'cloudy' in inputs \
            else 'cpu'
        return self.sample(inputs, generator=seeded_generator(self.sampling_seed, device))
