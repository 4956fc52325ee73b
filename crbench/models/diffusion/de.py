"""DE: Diffusion Enhancement for cloud removal (Sui et al., TGRS 2024).

Pieces, each in one place:

* ``GaussianDiffusion``: the DDPM forward process with DE's linear beta
  schedule (1e-4 -> 0.02, T = 1000): DE Eq. 4 (noising), DE Eq. 9 (x0 from
  the noise), and the posterior of DE Eqs. 13-14 that samplers integrate.
* ``DiffusionEnhancement``: the framework. CNP (``DECNP``) predicts the noise
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
with its trained weights (read with ``torch.load(weights_only=True)``). The
network is frozen, always in eval mode, runs under ``no_grad`` once per batch,
and its weights are NOT part of DE's state dict (nor of DE's parameter count
in the paper): they always come from ``reference_checkpoint``, loaded strictly by
``crbench.engine.checkpoint.load_network_weights``: the file's keys as they are, or the
part under the first of ``reference_key_prefixes`` (default ``generator.``, ``net.``,
``network.``, ``model.``, ``backbone.``) that the file has; other parts may only be
training-only ones (a discriminator); an unconverted official file is refused with the
converter command.

The official reference networks take the cloudy image in [0, 1] and return
[0, 1] ("previous" -> ``2y - 1``), whereas crbench tensors are in [-1, 1].
``reference_input_range='zero_one'`` (default) feeds ``(y + 1) / 2`` and maps
the output back with ``2 x - 1``, as the official code does;
``'minus_one_one'`` passes [-1, 1] through unchanged both ways (for a
reference trained on crbench's [-1, 1] tensors). If the network returns a
tuple or list (e.g. MemoryNet's ``(stage, image)``), element
``reference_output_index`` (default: the last) is the image.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

import crbench.samplers.ddim  # noqa: F401  (registers DDIMSampler)
import crbench.samplers.ddpm  # noqa: F401  (registers DDPMSampler)
from crbench.models.restorers.base import BaseRestorer
from crbench.registry import DIFFUSION_SAMPLERS, MODELS

Timestep = Union[int, torch.Tensor]


def linear_betas(num_timesteps: int = 1000, beta_start: float = 1e-4,
                 beta_end: float = 0.02) -> torch.Tensor:
    """ADM's "linear" schedule: endpoints scaled by 1000 / T, float64."""
    scale = 1000.0 / num_timesteps
    return torch.linspace(beta_start * scale, beta_end * scale, num_timesteps,
                          dtype=torch.float64, device='cpu')


class GaussianDiffusion:
    """DDPM forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).

    Timesteps are integers 0..T-1 (index 0 is the first noising step);
    ``t = -1`` stands for the clean image (``alpha_bar(-1) == 1``). Methods
    take ``t`` as a Python int or as a long tensor of shape [B].
    """

    def __init__(self, betas: torch.Tensor):
        self.betas = betas.to(device='cpu', dtype=torch.float64)  # host-side table
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        self.num_timesteps = len(self.betas)

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4,
               beta_end: float = 0.02) -> 'GaussianDiffusion':
        return cls(linear_betas(num_timesteps, beta_start, beta_end))

    # ---- schedule -----------------------------------------------------------
    def alpha_bar(self, t: int) -> float:
        """abar_t = prod_{s<=t} (1 - beta_s) as a float; 1 for t = -1."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def timesteps(self, num_steps: Optional[int] = None) -> List[int]:
        """Times a sampler visits, descending and ending at 0.

        ``None`` or T: every timestep. Otherwise ADM's "ddimN" spacing when
        an integer stride gives exactly ``num_steps`` times (T = 1000: 50 ->
        0, 20, ..., 980; 10 -> 0, 100, ..., 900), else ``num_steps`` times
        evenly spaced over [0, T - 1] and rounded (ADM's section spacing).
        """
        T = self.num_timesteps
        if num_steps is None or num_steps == T:
            return list(range(T - 1, -1, -1))
        if not 1 <= num_steps <= T:
            raise ValueError(f'num_steps must be in [1, {T}], got {num_steps}')
        for stride in range(1, T):
            if len(range(0, T, stride)) == num_steps:
                return list(range(0, T, stride))[::-1]
        if num_steps == 1:
            return [0]
        frac = (T - 1) / (num_steps - 1)
        return sorted({round(i * frac) for i in range(num_steps)}, reverse=True)

    def _coef(self, values: torch.Tensor, t: Timestep, like: torch.Tensor):
        if isinstance(t, int):
            return float(values[t])
        v = values[t.detach().long().cpu()].to(device=like.device, dtype=like.dtype)
        return v.view(-1, *([1] * (like.dim() - 1)))

    # ---- DE equations ---------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: Timestep, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps.  # DE Eq. 4"""
        abar = self._coef(self.alphas_cumprod, t, x0)
        return abar ** 0.5 * x0 + (1 - abar) ** 0.5 * noise

    def x0_from_eps(self, x_t: torch.Tensor, t: Timestep, eps: torch.Tensor) -> torch.Tensor:
        """x_{0,eps,t} = (x_t - sqrt(1 - abar_t) eps_t) / sqrt(abar_t).  # DE Eq. 9"""
        abar = self._coef(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - abar) ** 0.5 * eps) / abar ** 0.5

    def eps_from_x0(self, x_t: torch.Tensor, t: Timestep, x0: torch.Tensor) -> torch.Tensor:
        """The noise that DE Eq. 4 maps x0 to x_t with (DE Eq. 9 solved for eps)."""
        abar = self._coef(self.alphas_cumprod, t, x_t)
        return (x_t - abar ** 0.5 * x0) / (1 - abar) ** 0.5

    def posterior(self, x_t: torch.Tensor, t: int, s: int, x0: torch.Tensor):
        """Mean and variance of q(x_s | x_t, x0) for s < t (DE Eqs. 13-14).

        For ``s = t - 1`` this is DE Eq. 13 with beta_t; for a respaced chain
        the step's beta is ``1 - abar_t / abar_s``. ``s = -1`` gives (x0, 0).
        """
        if not -1 <= s < t:
            raise ValueError(f'posterior needs -1 <= s < t, got s={s}, t={t}')
        abar_t, abar_s = self.alpha_bar(t), self.alpha_bar(s)
        beta = 1 - abar_t / abar_s
        mean = (abar_s ** 0.5 * beta / (1 - abar_t)) * x0 \
            + ((1 - beta) ** 0.5 * (1 - abar_s) / (1 - abar_t)) * x_t  # DE Eq. 13
        var = (1 - abar_s) / (1 - abar_t) * beta  # DE Eq. 14 (beta tilde)
        return mean, var


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
    REFERENCE_RANGES = ('zero_one', 'minus_one_one')

    def __init__(self,
                 cnp: dict,
                 weight_net: Optional[dict] = None,
                 reference: Optional[dict] = None,
                 reference_checkpoint: Optional[str] = None,
                 reference_train_config: Optional[str] = None,
                 reference_input_range: str = 'zero_one',
                 reference_output_index: int = -1,
                 reference_key_prefixes: Sequence[str] = ('generator.', 'net.', 'network.',
                                                          'model.', 'backbone.'),
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
        if reference_input_range not in self.REFERENCE_RANGES:
            raise ValueError(f'reference_input_range must be one of {self.REFERENCE_RANGES}, '
                             f'got {reference_input_range!r}')
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
        self.reference_input_range = reference_input_range
        self.reference_output_index = reference_output_index
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
            self.reference = MODELS.build(reference)
            self._load_reference(reference_checkpoint, reference_train_config,
                                 reference_key_prefixes)
            self.reference.requires_grad_(False)
            self.reference.eval()
            self.register_state_dict_post_hook(DiffusionEnhancement._drop_reference_keys)
            self.register_load_state_dict_post_hook(
                DiffusionEnhancement._ignore_missing_reference_keys)

        # DE Sec. IV-D: which network learns in which stage
        self.cnp.requires_grad_(stage in (1, 3))
        if self.weight_net is not None:
            self.weight_net.requires_grad_(stage in (2, 3))

        if sampler is None:
            sampler = dict(type='DDIMSampler', num_steps=50, eta=0.0)
        self.sampler = DIFFUSION_SAMPLERS.build(sampler) if isinstance(sampler, dict) else sampler

    # ---- reference prior ----------------------------------------------------
    def _load_reference(self, path: Optional[str], train_config: Optional[str],
                        prefixes: Sequence[str]) -> None:
        if path is None or not osp.isfile(path):
            command = ('python tools/train.py ' +
                       (train_config or 'configs/<model>/<model>_<dataset>.py'))
            raise FileNotFoundError(
                f'DE reference network checkpoint not found: {path!r}. DE needs a trained '
                f'reference network ({type(self.reference).__name__}); train it first with\n'
                f'    {command}\n'
                'and set reference_checkpoint to the resulting .pth file '
                "(or use fusion='none' for pure diffusion).")
        # crbench's own training checkpoints (sidecar digest) load in full; any other
        # file (official, converted weights) with weights_only=True.
        from crbench.engine.checkpoint import load_network_weights
        load_network_weights(self.reference, path, prefixes)  # strict; names the converter

    @staticmethod
    def _drop_reference_keys(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix + 'reference.')]:
            del state_dict[key]

    @staticmethod
    def _ignore_missing_reference_keys(module, incompatible_keys):
        # keys are relative to the module load_state_dict was called on (maybe a wrapper)
        missing = incompatible_keys.missing_keys
        missing[:] = [k for k in missing
                      if not (k.startswith('reference.') or '.reference.' in k)]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.reference is not None:
            self.reference.eval()  # E is frozen: always in inference mode
        return self

    @torch.no_grad()
    def reference_prior(self, cloudy: torch.Tensor) -> torch.Tensor:
        """x_{0,E} = E(y) in [-1, 1].  # DE Eq. 10"""
        if self.reference is None:
            raise RuntimeError("fusion='none': this DE model has no reference network")
        y = (cloudy + 1) / 2 if self.reference_input_range == 'zero_one' else cloudy
        out = self.reference(y)
        if isinstance(out, (tuple, list)):
            out = out[self.reference_output_index]
        if self.reference_input_range == 'zero_one':
            out = out * 2 - 1
        return out.detach()

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

    @torch.no_grad()
    def sample(self, cloudy: torch.Tensor, generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[dict], None]] = None,
               progress: bool = False) -> torch.Tensor:
        """Run the configured sampler from x_T ~ N(0, I).

        ``callback`` receives the sampler's per-step dict plus, with fusion,
        ``weight`` (the W used at that step) and ``reference`` (x_{0,E}).
        """
        ref = self.reference_prior(cloudy) if self.fusion != 'none' else None
        b, _, h, w = cloudy.shape
        bands = getattr(self.cnp, 'out_channels', cloudy.shape[1])
        x_init = torch.randn((b, bands, h, w), generator=generator,
                             device=cloudy.device, dtype=cloudy.dtype)
        record: dict = {}
        step_callback = None
        if callback is not None:
            def step_callback(info):
                callback(dict(info, reference=ref, **record))
        return self.sampler(self.denoiser(cloudy, ref, record), x_init, self.process,
                            generator=generator, callback=step_callback, progress=progress)

    @torch.no_grad()
    def restore(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        cloudy = self._cloudy(inputs)
        generator = None
        if self.sampling_seed is not None:
            generator = torch.Generator(device=cloudy.device).manual_seed(self.sampling_seed)
        return self.sample(cloudy, generator=generator)

    @staticmethod
    def _cloudy(inputs) -> torch.Tensor:
        cloudy = inputs['cloudy'] if isinstance(inputs, dict) else inputs
        if cloudy.dim() == 5 and cloudy.shape[1] == 1:
            cloudy = cloudy[:, 0]  # mono-temporal use of a multi-temporal dataset (T = 1)
        if cloudy.dim() != 4:
            raise ValueError(f'DE takes one cloudy image per sample (B x C x H x W), got shape '
                             f'{tuple(cloudy.shape)}')
        return cloudy
