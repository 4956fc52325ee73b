"""The forward (noising) processes of crbench's diffusion frameworks, one small class each.

* ``GaussianDiffusion``: DE's DDPM process (DE Eqs. 4, 9, 13-14), integer
  timesteps with a linear beta schedule.
* ``MeanRevertingEDM``: EMRDM's mean-reverting process with s(t) = 1 / (1 +
  alpha t) and sigma(t) = t (EMRDM Eqs. 6, 11, 14-19).
* ``karras_sigmas``: the EDM noise levels (EDM Eq. 5) EMRDM samples on.
* ``sigmoid_betas`` and ``InterpolatedVP``: DiffCR's schedule, read in DPM-Solver's
  continuous time for its fast sampler (training uses ``GaussianDiffusion``).

A process describes the forward process and the quantities a reverse-time loop
needs; the loops themselves live in ``crbench.samplers`` and the networks and
losses in the frameworks (``de.py``, ``emrdm.py``).

The common solver view
----------------------
Both processes can be written as a scaled, shifted variance-exploding (VE)
process. There is a map ``y = to_ve(x, t)`` (and its inverse ``from_ve``) with

    y(t) = x0 + sigma_ve(t) n,      n ~ N(0, I),

and, in y, the probability-flow ODE of either process is EDM's VE ODE
``dy / dsigma_ve = (y - D(x; t)) / sigma_ve`` with D the denoiser (the
x0 estimate). Exponential-integrator samplers (DPM-Solver++,
``crbench.samplers.dpm_solver``) are written once against this view:

* DE (variance preserving, DE Eq. 4: x = sqrt(abar) x0 + sqrt(1 - abar) n):
  ``y = x / sqrt(abar)``, ``sigma_ve = sqrt((1 - abar) / abar)``; dividing
  DE Eq. 4 by sqrt(abar) gives the VE form, and the VP probability-flow ODE
  turns into the VE one (Song et al. 2021; DPM-Solver++ Sec. 3).
* EMRDM (EMRDM Eq. 6: x~ = x0 + k(t) mu + sigma(t) n, k = (1 - s)/s = alpha t):
  ``y = x~ - k(t) mu``, ``sigma_ve = sigma(t) = t``. Substituting into EMRDM
  Eq. 11, dx~/dt = k'(t) mu - (D + k mu - x~) / t (sigma(t) = t, so
  sigma'/sigma = 1/t and -s'/s^2 = k' = alpha), the mu terms cancel:
  dy/dt = dx~/dt - k'(t) mu = (y - D) / t. With several frames each frame
  y_l = x0 + t n_l follows the same ODE with the shared D.

Methods of the view: ``solver_times(num_steps, spacing)`` (the visited times,
then the clean time; ``spacing='process'`` is the process's own grid, the one
DDIM / Euler visit, ``'logsnr'`` is uniform in lambda = -log sigma_ve, the
grid DPM-Solver recommends), ``start(x_init, t)``, ``time_batch(t, like)``, ``sigma_ve(t)``,
``to_ve(x, t)``, ``from_ve(y, t)`` and ``expand(denoised, like)``.
"""
import copy
import math
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

Timestep = Union[int, Tensor]
Sigma = Union[float, Tensor]


SPACINGS = ('process', 'logsnr')


def _check_spacing(spacing: str) -> None:
    if spacing not in SPACINGS:
        raise ValueError(f'spacing must be one of {SPACINGS}, got {spacing!r}')


# ---- DE: DDPM process with a linear schedule -------------------------------------------
def linear_betas(num_timesteps: int = 1000, beta_start: float = 1e-4,
                 beta_end: float = 0.02) -> Tensor:
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

    def __init__(self, betas: Tensor):
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

    def _coef(self, values: Tensor, t: Timestep, like: Tensor):
        if isinstance(t, int):
            return float(values[t])
        v = values[t.detach().long().cpu()].to(device=like.device, dtype=like.dtype)
        return v.view(-1, *([1] * (like.dim() - 1)))

    # ---- DE equations ---------------------------------------------------------
    def q_sample(self, x0: Tensor, t: Timestep, noise: Tensor) -> Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps.  # DE Eq. 4"""
        abar = self._coef(self.alphas_cumprod, t, x0)
        return abar ** 0.5 * x0 + (1 - abar) ** 0.5 * noise

    def x0_from_eps(self, x_t: Tensor, t: Timestep, eps: Tensor) -> Tensor:
        """x_{0,eps,t} = (x_t - sqrt(1 - abar_t) eps_t) / sqrt(abar_t).  # DE Eq. 9"""
        abar = self._coef(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - abar) ** 0.5 * eps) / abar ** 0.5

    def eps_from_x0(self, x_t: Tensor, t: Timestep, x0: Tensor) -> Tensor:
        """The noise that DE Eq. 4 maps x0 to x_t with (DE Eq. 9 solved for eps)."""
        abar = self._coef(self.alphas_cumprod, t, x_t)
        return (x_t - abar ** 0.5 * x0) / (1 - abar) ** 0.5

    def posterior(self, x_t: Tensor, t: int, s: int, x0: Tensor):
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

    # ---- the common solver view (module docstring) ----------------------------------
    def solver_times(self, num_steps: Optional[int], spacing: str = 'process') -> List[int]:
        """The visited timesteps, then -1 (the clean image).

        ``'process'``: ``timesteps(num_steps)`` (DDIM's grid). ``'logsnr'``: the
        integer timesteps nearest to ``num_steps`` values uniform in lambda =
        -log sigma_ve from t = T - 1 to t = 0 (duplicates merged, so at most
        ``num_steps`` times).
        """
        _check_spacing(spacing)
        if spacing == 'process' or num_steps is None or num_steps == 1:
            return self.timesteps(num_steps) + [-1]
        if not 1 <= num_steps <= self.num_timesteps:
            raise ValueError(f'num_steps must be in [1, {self.num_timesteps}], got {num_steps}')
        abar = self.alphas_cumprod
        lam = 0.5 * torch.log(abar / (1 - abar))  # = -log sigma_ve, decreasing in t
        targets = torch.linspace(float(lam[-1]), float(lam[0]), num_steps, dtype=torch.float64)
        nearest = (lam.view(1, -1) - targets.view(-1, 1)).abs().argmin(dim=1).tolist()
        return sorted(set(nearest), reverse=True) + [-1]

    def start(self, x_init: Tensor, t: int) -> Tensor:
        """x_T is the standard-normal draw itself (as DE's DDIM/DDPM start)."""
        return x_init

    def time_batch(self, t: int, like: Tensor) -> Tensor:
        """What the denoiser gets: t as a long tensor of shape [B]."""
        return torch.full((like.shape[0],), t, device=like.device, dtype=torch.long)

    def sigma_ve(self, t: int) -> float:
        """sqrt((1 - abar_t) / abar_t): DE Eq. 4 divided by sqrt(abar_t); 0 at t = -1."""
        abar = self.alpha_bar(t)
        return ((1 - abar) / abar) ** 0.5

    def to_ve(self, x: Tensor, t: int) -> Tensor:
        return x / self.alpha_bar(t) ** 0.5

    def from_ve(self, y: Tensor, t: int) -> Tensor:
        return y * self.alpha_bar(t) ** 0.5

    @staticmethod
    def expand(denoised: Tensor, like: Tensor) -> Tensor:
        return denoised


# ---- DiffCR: sigmoid schedule, DPM-Solver's continuous time over a discrete schedule ------
def sigmoid_betas(num_timesteps: int = 2000, start: float = -3.0, end: float = 3.0,
                  tau: float = 1.0, max_beta: float = 0.999) -> Tensor:
    """The sigmoid schedule (Jabri et al., 2022) DiffCR trains and samples with, float64.

    abar(t) = (sigmoid(end/tau) - sigmoid((t (end - start) + start)/tau))
              / (sigmoid(end/tau) - sigmoid(start/tau)),  t = 0, 1/T, ..., 1,
    beta_i = 1 - abar(i/T) / abar((i-1)/T), clipped to [0, max_beta].
    """
    if num_timesteps < 1 or tau <= 0 or not start < end:
        raise ValueError(f'need num_timesteps >= 1, tau > 0, start < end; got {num_timesteps}, '
                         f'{tau}, {start}, {end}')
    t = torch.linspace(0, 1, num_timesteps + 1, dtype=torch.float64, device='cpu')
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64, device='cpu'))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64, device='cpu'))
    abar = (v_end - torch.sigmoid((t * (end - start) + start) / tau)) / (v_end - v_start)
    abar = abar / abar[0]
    return (1 - abar[1:] / abar[:-1]).clamp(0, max_beta)


class InterpolatedVP:
    """A discrete VP schedule read in continuous time, as DPM-Solver reads it (Lu et al. 2022).

    The discrete abar_n (n = 0..N-1) sit at t_n = (n + 1)/N; log alpha(t) = 0.5 log abar
    is linear between them, so t runs over [1/N, 1]. As DPM-Solver's ``NoiseScheduleVP``,
    the last steps whose log-SNR lambda = log(alpha/sigma) falls below ``clip_lambda``
    are dropped first (N shrinks), which keeps lambda finite at t = 1. ``t = 0`` stands
    for the clean image. ``model_time(t) = 1000 (t - 1/N)`` is the time DPM-Solver's
    ``model_wrapper`` hands to a network of a discrete schedule.

    The solver view of the module docstring: sigma_ve = sigma / alpha, y = x / alpha;
    ``spacing='process'`` is time-uniform (DPM-Solver's ``skip_type='time_uniform'``),
    ``'logsnr'`` uniform in lambda.
    """

    def __init__(self, betas: Tensor, clip_lambda: Optional[float] = -5.1):
        log_alpha = 0.5 * torch.log1p(-betas.to(device='cpu', dtype=torch.float64)).cumsum(0)
        if clip_lambda is not None:
            lam = log_alpha - 0.5 * torch.log(-torch.expm1(2 * log_alpha))
            drop = int((lam < clip_lambda).sum())
            if drop:
                log_alpha = log_alpha[:-drop]
        self.log_alpha = log_alpha
        self.num_timesteps = len(log_alpha)
        self.t_grid = torch.arange(1, self.num_timesteps + 1, dtype=torch.float64, device='cpu') \
            / self.num_timesteps

    def log_alpha_at(self, t: float) -> float:
        if t <= 0:
            return 0.0
        return float(_interp(torch.tensor([float(t)], dtype=torch.float64, device='cpu'), self.t_grid,
                             self.log_alpha))

    def alpha_bar(self, t: float) -> float:
        return math.exp(2 * self.log_alpha_at(t))

    def model_time(self, t: Tensor) -> Tensor:
        return (t - 1.0 / self.num_timesteps) * 1000.0

    def solver_times(self, num_steps: int, spacing: str = 'process') -> List[float]:
        """``num_steps + 1`` times from 1 to 1/N, then 0 (the clean image)."""
        _check_spacing(spacing)
        if num_steps < 1:
            raise ValueError(f'num_steps must be >= 1, got {num_steps}')
        t_end = 1.0 / self.num_timesteps
        if spacing == 'process':
            times = torch.linspace(1.0, t_end, num_steps + 1, dtype=torch.float64, device='cpu').tolist()
        else:
            lam = [-math.log(self.sigma_ve(t)) for t in (1.0, t_end)]
            targets = torch.linspace(lam[0], lam[1], num_steps + 1, dtype=torch.float64, device='cpu')
            lam_grid = self.log_alpha - 0.5 * torch.log(-torch.expm1(2 * self.log_alpha))
            times = _interp(targets, lam_grid.flip(0), self.t_grid.flip(0)).tolist()
        return times + [0.0]

    @staticmethod
    def start(x_init: Tensor, t: float) -> Tensor:
        return x_init

    @staticmethod
    def time_batch(t: float, like: Tensor) -> Tensor:
        return torch.full((like.shape[0],), t, device=like.device, dtype=like.dtype)

    def sigma_ve(self, t: float) -> float:
        if t <= 0:
            return 0.0
        abar = self.alpha_bar(t)
        return ((1 - abar) / abar) ** 0.5

    def to_ve(self, x: Tensor, t: float) -> Tensor:
        return x / math.exp(self.log_alpha_at(t))

    def from_ve(self, y: Tensor, t: float) -> Tensor:
        return y * math.exp(self.log_alpha_at(t))

    @staticmethod
    def expand(denoised: Tensor, like: Tensor) -> Tensor:
        return denoised


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing), extrapolating linearly
    from the end segments (as DPM-Solver's ``interpolate_fn``)."""
    idx = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[idx - 1], xp[idx], fp[idx - 1], fp[idx]
    return f0 + (x - x0) * (f1 - f0) / (x1 - x0)


# ---- EMRDM: mean-reverting EDM ---------------------------------------------------------
def karras_sigmas(num_steps: int, sigma_min: float = 0.001, sigma_max: float = 100.0,
                  rho: float = 7.0, append_zero: bool = True) -> Tensor:
    """EDM Eq. 5 noise levels, descending from sigma_max to sigma_min (float64).

    ``sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho``
    for i = 0..N-1, then a 0 (``append_zero``). ``num_steps=1`` gives
    ``[sigma_max, 0]``.
    """
    if num_steps < 1:
        raise ValueError(f'num_steps must be >= 1, got {num_steps}')
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f'need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, '
                         f'sigma_max={sigma_max}')
    if rho <= 0:
        raise ValueError(f'rho must be > 0, got {rho}')
    ramp = torch.arange(num_steps, dtype=torch.float64) / max(num_steps - 1, 1)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho  # EDM Eq. 5
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas


def _log(sigma: Sigma) -> Sigma:
    return torch.log(sigma) if isinstance(sigma, Tensor) else math.log(sigma)


def per_sample(value: Sigma, ndim: int) -> Sigma:
    """A [B] tensor viewed as [B, 1, ..., 1] (``ndim`` dims); floats pass through."""
    if isinstance(value, Tensor) and value.dim() == 1:
        return value.view(-1, *([1] * (ndim - 1)))
    return value


class MeanRevertingEDM:
    """EMRDM's forward process and preconditioning.

    s(t) = 1 / (1 + alpha t) and sigma(t) = t, so k = (1 - s)/s = alpha sigma:
    the perturbation (EMRDM Eq. 6), c_in, c_skip, c_out, c_noise (Eqs. 14-17),
    the loss weight lambda = 1 / c_out^2 (Eq. 18), and, once bound to a
    batch's mean mu with ``with_mean``, what the samplers need (Karras sigmas,
    Algorithm 3 start, Eq. 19 churn, Eq. 11 derivative, the solver view).

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

    def _moments(self, sigma: Sigma, num_frames: int):
        """(sigma_data^2, Var(k mu), Cov(x0, k mu), sigma^2 / L): the terms of Eqs. 14-16."""
        k = self.k(sigma)
        return (self.sigma_data ** 2, (k * self.sigma_mu) ** 2, k * self.sigma_cov,
                sigma ** 2 / num_frames)

    def _c_out_squared(self, sigma: Sigma, num_frames: int) -> Tuple[Sigma, Sigma]:
        """(numerator, denominator) of c_out^2 (EMRDM Eq. 16)."""
        sd2, var_mu, cov, var_l = self._moments(sigma, num_frames)
        return (var_mu * sd2 + var_l * sd2 - cov ** 2), (sd2 + var_mu + var_l + 2 * cov)

    def scalings(self, sigma: Sigma, num_frames: int = 1) -> Tuple[Sigma, Sigma, Sigma, Sigma]:
        """(c_skip, c_out, c_in, c_noise) at sigma for L = ``num_frames``.  # EMRDM Eqs. 14-17"""
        sd2, var_mu, cov, var_l = self._moments(sigma, num_frames)
        c_in = (sd2 + var_mu + sigma ** 2 + 2 * cov) ** -0.5  # Eq. 14
        c_skip = (sd2 + cov) / (sd2 + var_mu + var_l + 2 * cov)  # Eq. 15
        num, den = self._c_out_squared(sigma, num_frames)
        c_out = (num / den) ** 0.5  # Eq. 16
        c_noise = 0.25 * _log(sigma)  # Eq. 17
        return c_skip, c_out, c_in, c_noise

    def loss_weight(self, sigma: Sigma, num_frames: int = 1) -> Sigma:
        """lambda(sigma) = 1 / c_out(sigma)^2.  # EMRDM Eq. 18 (EDM's choice)"""
        num, den = self._c_out_squared(sigma, num_frames)
        return den / num

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

    # ---- the common solver view (module docstring) ----------------------------------
    def solver_times(self, num_steps: int, spacing: str = 'process') -> List[float]:
        """Noise levels then 0 (sigma(t) = t, so times are sigmas).

        ``'process'``: the Karras sigmas of ``timesteps`` (EMRDM's grid);
        ``'logsnr'``: ``num_steps`` sigmas uniform in log sigma from sigma_max
        to sigma_min.
        """
        _check_spacing(spacing)
        if spacing == 'process' or num_steps == 1:
            return self.timesteps(num_steps)
        if num_steps < 1:
            raise ValueError(f'num_steps must be >= 1, got {num_steps}')
        log_sigmas = torch.linspace(math.log(self.sigma_max), math.log(self.sigma_min), num_steps,
                                    dtype=torch.float64)
        return log_sigmas.exp().tolist() + [0.0]

    def start(self, x_init: Tensor, sigma: float) -> Tensor:
        return self.prior(x_init, sigma)  # Alg. 3 line 3

    @staticmethod
    def time_batch(sigma: float, like: Tensor) -> Tensor:
        """What the denoiser gets: sigma as a [B] tensor of the state's dtype."""
        return torch.full((like.shape[0],), sigma, device=like.device, dtype=like.dtype)

    @staticmethod
    def sigma_ve(sigma: float) -> float:
        return sigma

    def to_ve(self, x: Tensor, sigma: float) -> Tensor:
        """y = x~ - k(sigma) mu: EMRDM Eq. 6 without its mean-addition term."""
        return x - self.k(sigma) * self._mu()

    def from_ve(self, y: Tensor, sigma: float) -> Tensor:
        return y + self.k(sigma) * self._mu()
