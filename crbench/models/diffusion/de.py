"""DE: Diffusion Enhancement for cloud removal (Sui et al., TGRS 2024).

Pieces, each in one place:

* the process (``crbench.models.diffusion.processes.GaussianDiffusion``): the
  DDPM forward process with DE's linear beta schedule (1e-4 -> 0.02,
  T = 1000): DE Eq. 4 (noising), DE Eq. 9 (x0 from the noise), and the
  posterior of DE Eqs. 13-14 that samplers integrate;
* the reference prior (``crbench.models.diffusion.frozen_reference.
  FrozenReference``): loading E's weights, the [0, 1] <-> [-1, 1] mapping and
  the output index (DE Eq. 10);
* ``DiffusionEnhancement`` (here): the framework. CNP (``DECNP``) predicts the noise
  (DE Eq. 8), a frozen reference network E gives x_{0,E} = E(y) (DE Eq. 10),
  the WA network (``DEWeightNet``) gives W and DE Eq. 12 fuses the two x0
  estimates. Losses: DE Eq. 7 (CNP), Eq. 16 (WA, stop-gradient on the
  diffusion x0) and Eq. 17 (joint).

Three-stage training (DE Sec. IV-D, docs/models.md section 2.3) is one config key,
``stage``, never a code edit:

* stage 1, pure diffusion (64x64 images in DE): loss Eq. 7 ``loss_ddpm``;
  the CNP trains.
* stage 2, CNP locked: loss Eq. 16 ``loss_wa``; the WA trains. The noise MSE
  is logged as ``ddpm_mse`` (MMEngine sums only keys containing ``loss``).
* stage 3, joint fine-tuning: Eq. 17, ``loss_ddpm`` (times lambda) and
  ``loss_wa``; both train.

Frozen parameters get ``requires_grad=False``. Stage 2 starts from a stage-1
checkpoint through ``load_from`` (MMEngine loads non-strictly: the WA keys are
absent there and keep their initialisation, i.e. W = 0). Because the
diffusion x0 is detached in Eq. 16, the CNP only ever receives the Eq. 7
gradient and the WA only the Eq. 16 gradient.

Fusion at inference (``fusion``): ``'wa'`` (W from the WA network, clamped to
[eta_limit, 1] = [0.3, 1] at inference only), ``'fixed'`` (W = 0.5 everywhere,
DE Table IX rows without WA) or ``'none'`` (pure diffusion, Table IX row 1; no
reference network is built or loaded). A stage-1 config normally uses
``fusion='none'`` so that it needs no reference checkpoint.

The reference network
---------------------
``reference`` is any ``MODELS`` config and ``reference_checkpoint`` the file
with its trained weights; ``reference_input_range``,
``reference_output_index`` and ``reference_key_prefixes`` are passed to
``FrozenReference`` (see there). E is frozen, runs once per image at
sampling (its output is a constant of the whole reverse loop) and its weights
are NOT part of DE's state dict (nor of DE's parameter count in the paper).
"""
from typing import Callable, Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F

import crbench.samplers  # noqa: F401  (registers the samplers)
from crbench.models.diffusion.common import build_sampler, outside_inference, seeded_generator
from crbench.models.diffusion.frozen_reference import (DEFAULT_KEY_PREFIXES, INPUT_RANGES,
                                                        FrozenReference)
from crbench.models.diffusion.processes import GaussianDiffusion, linear_betas  # noqa: F401
from crbench.models.restorers.base import BaseRestorer
from crbench.registry import MODELS


@MODELS.register_module()
class DiffusionEnhancement(BaseRestorer):
    """DE framework (see the module docstring).

    Args:
        cnp: config of the noise predictor, ``forward(x_t, t, cloudy) -> eps``
            (e.g. ``dict(type='DECNP', num_bands=4)``).
        weight_net: config of the WA network, ``forward(x_t, t, cloudy, ref)
            -> W``; required when ``fusion='wa'``.
        reference: config of the reference network E (any ``MODELS`` network);
            required unless ``fusion='none'``.
        reference_checkpoint: file with E's trained weights.
        reference_train_config: config that trains E, quoted in the error
            raised when ``reference_checkpoint`` does not exist.
        reference_input_range: ``'zero_one'`` or ``'minus_one_one'``.
        reference_output_index: which element of a tuple/list output is the image.
        reference_key_prefixes: prefixes tried when loading E's weights.
        fusion: ``'wa'``, ``'fixed'`` or ``'none'``.
        fixed_weight: W for ``fusion='fixed'`` (0.5 in DE Table IX).
        eta_limit: DE's limiting factor eta: at inference W is clamped to
            [eta_limit, 1] (0.3 in the paper; not applied in training).
            Not to be confused with the DDIM eta of the sampler.
        stage: 1, 2 or 3 (see the module docstring).
        lambda_ddpm: lambda of DE Eq. 17 (weight of the noise MSE in stage 3).
        num_timesteps, beta_start, beta_end: the linear schedule.
        clip_denoised: clamp x_{0,eps,t} to [-1, 1] before fusion (official).
        sampler: a ``DIFFUSION_SAMPLERS`` config (default: DDIM, 50 steps,
            eta 0, as in the paper) or a sampler object.
        sampling_seed: if set, every ``restore`` call draws x_T (and any
            sampler noise) from a generator seeded with it.
    """

    STAGES = (1, 2, 3)
    FUSIONS = ('wa', 'fixed', 'none')
    REFERENCE_RANGES = INPUT_RANGES

    def __init__(self,
                 cnp: dict,
                 weight_net: Optional[dict] = None,
                 reference: Optional[dict] = None,
                 reference_checkpoint: Optional[str] = None,
                 reference_train_config: Optional[str] = None,
                 reference_input_range: str = 'zero_one',
                 reference_output_index: int = -1,
                 reference_key_prefixes: Sequence[str] = DEFAULT_KEY_PREFIXES,
                 fusion: str = 'wa',
                 fixed_weight: float = 0.5,
                 eta_limit: float = 0.3,
                 stage: int = 3,
                 lambda_ddpm: float = 1.0,
                 num_timesteps: int = 1000,
                 beta_start: float = 1e-4,
                 beta_end: float = 0.02,
                 clip_denoised: bool = True,
                 sampler: Union[dict, Callable, None] = None,
                 sampling_seed: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if stage not in self.STAGES:
            raise ValueError(f'stage must be one of {self.STAGES}, got {stage!r}')
        if fusion not in self.FUSIONS:
            raise ValueError(f'fusion must be one of {self.FUSIONS}, got {fusion!r}')
        if stage in (2, 3) and fusion != 'wa':
            raise ValueError(f'stage {stage} trains the WA network (DE Eq. 16): it needs '
                             f"fusion='wa', got fusion={fusion!r}")
        if not 0.0 <= eta_limit <= 1.0:
            raise ValueError(f'eta_limit must be in [0, 1], got {eta_limit}')
        self.stage = stage
        self.fusion = fusion
        self.fixed_weight = float(fixed_weight)
        self.eta_limit = float(eta_limit)
        self.lambda_ddpm = float(lambda_ddpm)
        self.clip_denoised = clip_denoised
        self.sampling_seed = sampling_seed
        self.process = GaussianDiffusion.linear(num_timesteps, beta_start, beta_end)

        self.cnp = MODELS.build(cnp)
        self.weight_net = None
        if fusion == 'wa':
            if weight_net is None:
                raise ValueError("fusion='wa' needs a weight_net config (e.g. type='DEWeightNet')")
            self.weight_net = MODELS.build(weight_net)
        self.reference = None
        if fusion != 'none':
            if reference is None:
                raise ValueError(f"fusion={fusion!r} needs a reference network config "
                                 "(or use fusion='none' for pure diffusion)")
            self.reference = FrozenReference(
                reference, reference_checkpoint, train_config=reference_train_config,
                input_range=reference_input_range, output_index=reference_output_index,
                key_prefixes=reference_key_prefixes)

        # DE Sec. IV-D: which network learns in which stage
        self.cnp.requires_grad_(stage in (1, 3))
        if self.weight_net is not None:
            self.weight_net.requires_grad_(stage in (2, 3))

        if sampler is None:
            sampler = dict(type='DDIMSampler', num_steps=50, eta=0.0)
        self.sampler = build_sampler(sampler, self.process)

    def reference_prior(self, cloudy: torch.Tensor) -> torch.Tensor:
        """x_{0,E} = E(y) in [-1, 1].  # DE Eq. 10"""
        if self.reference is None:
            raise RuntimeError("fusion='none': this DE model has no reference network")
        return self.reference(cloudy)

    # ---- DE equations -------------------------------------------------------
    def predict_noise(self, x_t, t, cloudy):
        """eps_t = eps_theta(x_t, t, y).  # DE Eq. 8"""
        return self.cnp(x_t, t, cloudy)

    def diffusion_x0(self, x_t, t, eps):
        """x_{0,eps,t} from the predicted noise, clamped to [-1, 1] if configured.  # DE Eq. 9"""
        x0 = self.process.x0_from_eps(x_t, t, eps)
        return x0.clamp(-1, 1) if self.clip_denoised else x0

    def fusion_weight(self, x_t, t, cloudy, ref, inference: bool):
        """W of DE Eq. 12: WA output (clamped to [eta, 1] at inference only) or fixed."""
        if self.fusion == 'fixed':
            return torch.full_like(ref, self.fixed_weight)
        w = self.weight_net(x_t, t, cloudy, ref)
        return w.clamp(self.eta_limit, 1.0) if inference else w

    @staticmethod
    def fuse(x0_eps, ref, w):
        """x_{0,t} = (1 - W) * x_{0,eps,t} + W * x_{0,E}.  # DE Eq. 12"""
        return (1 - w) * x0_eps + w * ref

    # ---- training -------------------------------------------------------------
    def loss(self, inputs: Dict[str, torch.Tensor], data_samples) -> Dict[str, torch.Tensor]:
        cloudy = self._cloudy(inputs)
        gt = self.targets(data_samples).to(cloudy.device)
        t = torch.randint(0, self.process.num_timesteps, (gt.shape[0],), device=gt.device)
        noise = torch.randn_like(gt)
        x_t = self.process.q_sample(gt, t, noise)  # DE Eq. 4
        eps = self.predict_noise(x_t, t, cloudy)
        mse = F.mse_loss(eps, noise)  # DE Eq. 7
        if self.stage == 1:
            return dict(loss_ddpm=mse)
        ref = self.reference_prior(cloudy)
        with torch.no_grad():  # (x_{0,eps,t})_sg
            x0_eps = self.diffusion_x0(x_t, t, eps.detach())
        w = self.fusion_weight(x_t, t, cloudy, ref, inference=False)
        loss_wa = (gt - self.fuse(x0_eps, ref, w)).abs().mean()  # DE Eq. 16
        if self.stage == 2:
            return dict(loss_wa=loss_wa, ddpm_mse=mse.detach())
        return dict(loss_ddpm=self.lambda_ddpm * mse, loss_wa=loss_wa)  # DE Eq. 17

    # ---- inference ------------------------------------------------------------
    def denoiser(self, cloudy: torch.Tensor, ref: Optional[torch.Tensor],
                 record: Optional[dict] = None) -> Callable:
        """The sampler's ``denoiser(x_t, t) -> x_{0,t}`` for one batch of cloudy images."""

        def denoise(x_t, t):
            x0 = self.diffusion_x0(x_t, t, self.predict_noise(x_t, t, cloudy))  # DE Eqs. 8-9
            if self.fusion == 'none':
                return x0
            w = self.fusion_weight(x_t, t, cloudy, ref, inference=True)
            if record is not None:
                record['weight'] = w
            return self.fuse(x0, ref, w)  # DE Eq. 12

        return denoise

    def sample(self, cloudy: torch.Tensor, generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[dict], None]] = None,
               progress: bool = False) -> torch.Tensor:
        """Run the configured sampler from x_T ~ N(0, I).

        Everything that depends only on the image is computed once here and
        reused by every step: the reference prior x_{0,E} (one forward of E
        per image, not per step) and the noise draw; the loop runs under
        ``torch.inference_mode`` (the result is an ordinary tensor unless the
        caller is itself in inference mode).

        ``callback`` receives the sampler's per-step dict plus, with fusion,
        ``weight`` (the W used at that step) and ``reference`` (x_{0,E}).
        """
        with torch.inference_mode():
            ref = self.reference(cloudy) if self.fusion != 'none' else None  # DE Eq. 10, once
            b, _, h, w = cloudy.shape
            bands = getattr(self.cnp, 'out_channels', cloudy.shape[1])
            x_init = torch.randn((b, bands, h, w), generator=generator,
                                 device=cloudy.device, dtype=cloudy.dtype)
            record: dict = {}
            step_callback = None
            if callback is not None:
                def step_callback(info):
                    callback(dict(info, reference=ref, **record))
            out = self.sampler(self.denoiser(cloudy, ref, record), x_init, self.process,
                               generator=generator, callback=step_callback, progress=progress)
        return outside_inference(out)

    @torch.no_grad()
    def restore(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        cloudy = self._cloudy(inputs)
        return self.sample(cloudy, generator=seeded_generator(self.sampling_seed, cloudy.device))

    @staticmethod
    def _cloudy(inputs) -> torch.Tensor:
        cloudy = inputs['cloudy'] if isinstance(inputs, dict) else inputs
        if cloudy.dim() == 5 and cloudy.shape[1] == 1:
            cloudy = cloudy[:, 0]  # mono-temporal use of a multi-temporal dataset (T = 1)
        if cloudy.dim() != 4:
            raise ValueError(f'DE takes one cloudy image per sample (B x C x H x W), got shape '
                             f'{tuple(cloudy.shape)}')
        return cloudy
