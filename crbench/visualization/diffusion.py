"""Figures of DE's sampling (Sui et al., TGRS 2024): W heat map, W per step, x0 trajectory.

Three visuals of one cloudy image, all from the per-step dict that
``DiffusionEnhancement.sample(cloudy, generator, callback)`` passes to its
callback (``step``, ``num_steps``, ``t``, ``x`` (the state after the step),
``x0`` (the fused x_{0,t} of DE Eq. 12), and with fusion ``weight`` (the W used
at that step) and ``reference`` (x_{0,E})):

* DE Fig. 8, ``<id>_w_heatmap.png``: W at the final step (t = 0) as a heat map
  with a colorbar on the fixed scale [0, 1] (mean over bands, or one map per
  band), next to the label, x_{0,ε,t} and x_{0,E}. x_{0,ε,t} is recovered from
  DE Eq. 12, ``(x_{0,t} - W x_{0,E}) / (1 - W)``; it is undefined where W = 1
  (there x_{0,t} = x_{0,E}) and shown white.
* DE Fig. 9, ``<id>_w_per_step.png`` and ``.csv``: the mean of W over bands and
  pixels at every sampling step, from t = T to 0 (CSV columns ``step, t,
  w_mean, w_min, w_max``), with the inference clamp η (``eta_limit``) drawn.
* DE Fig. 4, ``<id>_trajectory.png``: x_{0,t} at ``trajectory_steps`` steps
  evenly spread over the chain (first and last included), after the label and
  x_{0,E}, in RGB with one shared stretch (``crbench.visualization.grids``).

``visualize_de_sampling`` re-runs the sampler on a batch and writes all three
per image; ``DEVisualizationHook`` (``crbench/engine/de_vis_hook.py``) calls it
at test time. Pure diffusion (``fusion='none'``) has no W: only the trajectory
is written. matplotlib (Agg) is imported on first use.
"""
import csv
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from crbench.visualization.grids import (comparison_grid, display_bands, enlarge,
                                         enlarge_factor, stretch)


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def trajectory_indices(num_steps: int, count: int) -> List[int]:
    """``count`` step indices evenly spread over ``0 … num_steps - 1``, ends included."""
    if num_steps < 1 or count < 1:
        raise ValueError(f'need num_steps >= 1 and count >= 1, got {num_steps}, {count}')
    if count == 1:
        return [num_steps - 1]
    return sorted({int(round(v)) for v in np.linspace(0, num_steps - 1, min(count, num_steps))})


def recover_x0_eps(x0: torch.Tensor, reference: torch.Tensor, weight: torch.Tensor,
                   tol: float = 1e-4) -> torch.Tensor:
    """x_{0,ε,t} from DE Eq. 12 inverted; NaN where ``1 - W < tol``."""
    denom = 1 - weight
    out = (x0 - weight * reference) / denom.clamp_min(tol)
    return torch.where(denom < tol, torch.full_like(out, float('nan')), out)


class DESamplingRecorder:
    """Callback for ``DiffusionEnhancement.sample``: keeps what the three figures need.

    Per step: ``t`` and, per image, the mean / min / max of W; x_{0,t} at the
    ``trajectory_steps`` steps of ``trajectory_indices``; W, x_{0,t} and
    x_{0,E} of the final step. Tensors are copied to the CPU.
    """

    def __init__(self, trajectory_steps: int = 6):
        self.trajectory_steps = trajectory_steps
        self.timesteps: List[int] = []
        self.w_mean: List[torch.Tensor] = []  # one [B] tensor per step
        self.w_min: List[torch.Tensor] = []
        self.w_max: List[torch.Tensor] = []
        self.trajectory: List[Tuple[int, torch.Tensor]] = []  # (t, x0 [B,C,H,W])
        self.final_weight: Optional[torch.Tensor] = None
        self.final_x0: Optional[torch.Tensor] = None
        self.reference: Optional[torch.Tensor] = None
        self._keep: Optional[set] = None

    def __call__(self, info: dict) -> None:
        step, num_steps, t = int(info['step']), int(info['num_steps']), int(info['t'])
        if self._keep is None:
            self._keep = set(trajectory_indices(num_steps, self.trajectory_steps))
        self.timesteps.append(t)
        x0 = info['x0'].detach().float()
        weight = info.get('weight')
        if weight is not None:
            w = weight.detach().float().expand_as(x0).flatten(1)
            self.w_mean.append(w.mean(1).cpu())
            self.w_min.append(w.amin(1).cpu())
            self.w_max.append(w.amax(1).cpu())
        if step in self._keep:
            self.trajectory.append((t, x0.cpu().clone()))
        if step == num_steps - 1:
            self.final_x0 = x0.cpu().clone()
            if weight is not None:
                self.final_weight = weight.detach().float().expand_as(x0).cpu().clone()
            if info.get('reference') is not None:
                self.reference = info['reference'].detach().float().cpu().clone()

    @property
    def has_weight(self) -> bool:
        return bool(self.w_mean)


# --------------------------------------------------------------------------- figures
def _enlarge(image: np.ndarray) -> np.ndarray:
    """Nearest-neighbour enlargement so that small images stay visible."""
    return enlarge(image, enlarge_factor(*image.shape[:2]))


def _limits(base: torch.Tensor, rgb_bands, percentiles=(1.0, 99.0)) -> Tuple[float, float]:
    array = display_bands(base, rgb_bands)
    if not np.isfinite(array).any():
        return (-1.0, 1.0)
    lo, hi = np.nanpercentile(array, percentiles)
    return float(lo), float(hi)


def save_weight_heatmap(weight: torch.Tensor, path: str, *,
                        panels: Optional[Dict[str, torch.Tensor]] = None,
                        per_band: bool = False, band_names: Optional[Sequence[str]] = None,
                        rgb_bands: Sequence[int] = (0, 1, 2), cmap: str = 'jet',
                        title: Optional[str] = None, dpi: int = 100) -> str:
    """DE Fig. 8: W (C×H×W) as a heat map on [0, 1] with a colorbar.

    ``panels`` (name → C×H×W tensor in [-1, 1], e.g. label, x_{0,ε,t},
    x_{0,E}) are drawn first in RGB with the stretch of the first panel; NaN
    pixels are white. ``per_band`` draws one map per band instead of the band mean.
    """
    plt = _pyplot()
    weight = weight.detach().float().cpu()
    maps = ([(band_names[i] if band_names and i < len(band_names) else f'band {i + 1}', w)
             for i, w in enumerate(weight)] if per_band else [('mean over bands',
                                                               weight.mean(0))])
    panels = dict(panels or {})
    limits = _limits(next(iter(panels.values())), rgb_bands) if panels else None
    n = len(panels) + len(maps)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 3.0), dpi=dpi, squeeze=False)
    axes = axes[0]
    for ax, (name, image) in zip(axes, panels.items()):
        array = display_bands(image, rgb_bands)
        rgb = stretch(array, limits)
        rgb[~np.isfinite(array).all(-1)] = 255
        ax.imshow(_enlarge(rgb), interpolation='nearest')
        ax.set_title(name, fontsize=9)
    image = None
    for ax, (name, w) in zip(axes[len(panels):], maps):
        image = ax.imshow(_enlarge(w.numpy()), cmap=cmap, vmin=0.0, vmax=1.0,
                          interpolation='nearest')
        ax.set_title(f'W, {name}', fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[len(panels):]), fraction=0.046, pad=0.04,
                 label='W (1: x$_{0,E}$, 0: x$_{0,\\epsilon,t}$)')
    if title:
        fig.suptitle(title, fontsize=10)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    return path


def save_weight_per_step(timesteps: Sequence[int], w_mean: Sequence[float], png_path: str,
                         csv_path: str, *, w_min: Optional[Sequence[float]] = None,
                         w_max: Optional[Sequence[float]] = None,
                         eta: Optional[float] = None, title: Optional[str] = None,
                         dpi: int = 100) -> Tuple[str, str]:
    """DE Fig. 9: mean W at each sampling step (line plot, t from T down to 0) and a CSV."""
    n = len(timesteps)
    if len(w_mean) != n or n == 0:
        raise ValueError(f'need one W mean per step: {n} steps, {len(w_mean)} means')
    w_min = list(w_min) if w_min is not None else [float('nan')] * n
    w_max = list(w_max) if w_max is not None else [float('nan')] * n
    os.makedirs(osp.dirname(osp.abspath(csv_path)), exist_ok=True)
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['step', 't', 'w_mean', 'w_min', 'w_max'])
        for i, row in enumerate(zip(timesteps, w_mean, w_min, w_max)):
            writer.writerow([i, int(row[0])] + [f'{float(v):.6f}' for v in row[1:]])

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.2), dpi=dpi)
    ax.plot(timesteps, w_mean, marker='o', markersize=3, label='mean W')
    if not all(math.isnan(v) for v in w_min):
        ax.fill_between(timesteps, w_min, w_max, alpha=0.2, label='min-max')
    if eta is not None:
        ax.axhline(eta, color='gray', linestyle='--', linewidth=1, label=f'η = {eta:g}')
    ax.set_xlim(max(timesteps) if n > 1 else timesteps[0] + 1, min(timesteps))  # T → 0
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel('time step t')
    ax.set_ylabel('mean of W')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(png_path, dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    return png_path, csv_path


def save_trajectory(trajectory: Sequence[Tuple[int, torch.Tensor]], path: str, *,
                    reference: Optional[torch.Tensor] = None, gt: Optional[torch.Tensor] = None,
                    rgb_bands: Sequence[int] = (0, 1, 2), title: Optional[str] = None,
                    dpi: int = 100) -> str:
    """DE Fig. 4: a strip ``label | x_{0,E} | x_{0,t} at each kept step``, one stretch.

    ``trajectory`` is a list of ``(t, C×H×W x_{0,t})`` from t = T to 0. The
    stretch comes from the label (or the last x_{0,t} without one).
    """
    if not trajectory:
        raise ValueError('the trajectory is empty')
    names, images = [], []
    if gt is not None:
        names.append('label')
        images.append(gt)
    if reference is not None:
        names.append('x$_{0,E}$')
        images.append(reference)
    for t, x0 in trajectory:
        names.append(f't = {t}')
        images.append(x0)
    limits = _limits(images[0] if gt is not None else trajectory[-1][1], rgb_bands)
    gap = 4
    h, w = images[0].shape[-2:]
    factor = enlarge_factor(h, w)
    panels = [im.detach().float().cpu().repeat_interleave(factor, -2)
              .repeat_interleave(factor, -1) for im in images]  # enlarged, gaps not
    grid = comparison_grid(panels, rgb_bands=rgb_bands, gap=gap, limits=limits)
    plt = _pyplot()
    # one figure pixel per grid pixel (no resampling), plus bands for the labels
    top, bottom = 22, (20 if title else 0)
    gh, gw = grid.shape[:2]
    fig = plt.figure(figsize=(gw / dpi, (gh + top + bottom) / dpi), dpi=dpi)
    ax = fig.add_axes([0, bottom / (gh + top + bottom), 1, gh / (gh + top + bottom)])
    ax.imshow(grid, interpolation='nearest', aspect='equal')
    centres = [i * (w * factor + gap) + w * factor / 2 for i in range(len(images))]
    ax.set_xticks(centres)
    ax.set_xticklabels(names, fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_xlabel(title, fontsize=9)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- driver
def _safe_name(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in str(name)) or 'image'


@torch.no_grad()
def visualize_de_sampling(model, cloudy: torch.Tensor, out_dir: str, names: Sequence[str],
                          gts: Optional[Sequence[Optional[torch.Tensor]]] = None, *,
                          trajectory_steps: int = 6, rgb_bands: Sequence[int] = (0, 1, 2),
                          per_band: bool = False, band_names: Optional[Sequence[str]] = None,
                          seed: int = 0) -> List[Dict[str, str]]:
    """Run ``model.sample`` on ``cloudy`` (B×C×H×W, [-1, 1]) and save the figures.

    The generator is seeded with the model's ``sampling_seed`` when it has one
    (then, with a deterministic sampler such as DDIM with eta 0, the run
    reproduces ``restore``'s prediction), else with ``seed``. Returns, per
    image, a dict ``{'w_heatmap', 'w_per_step_png', 'w_per_step_csv',
    'trajectory'}`` of written paths (the W entries only when the model fuses
    with a W).
    """
    if len(names) != cloudy.shape[0]:
        raise ValueError(f'{cloudy.shape[0]} images but {len(names)} names')
    gts = list(gts) if gts is not None else [None] * len(names)
    sampling_seed = getattr(model, 'sampling_seed', None)
    generator = torch.Generator(device=cloudy.device).manual_seed(
        int(sampling_seed if sampling_seed is not None else seed))
    recorder = DESamplingRecorder(trajectory_steps)
    model.sample(cloudy, generator=generator, callback=recorder)
    eta = getattr(model, 'eta_limit', None) if getattr(model, 'fusion', 'wa') == 'wa' else None
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i, name in enumerate(names):
        stem = osp.join(out_dir, _safe_name(name))
        gt = gts[i].detach().float().cpu() if gts[i] is not None else None
        ref = recorder.reference[i] if recorder.reference is not None else None
        paths = {}
        if recorder.has_weight:
            w_final = recorder.final_weight[i]
            panels = {}
            if gt is not None:
                panels['label'] = gt
            if ref is not None:
                panels['x$_{0,\\epsilon,t}$'] = recover_x0_eps(recorder.final_x0[i], ref, w_final)
                panels['x$_{0,E}$'] = ref
            paths['w_heatmap'] = save_weight_heatmap(
                w_final, stem + '_w_heatmap.png', panels=panels, per_band=per_band,
                band_names=band_names, rgb_bands=rgb_bands,
                title=f'{name}: W at t = {recorder.timesteps[-1]}')
            png, table = save_weight_per_step(
                recorder.timesteps, [float(m[i]) for m in recorder.w_mean],
                stem + '_w_per_step.png', stem + '_w_per_step.csv',
                w_min=[float(m[i]) for m in recorder.w_min],
                w_max=[float(m[i]) for m in recorder.w_max], eta=eta,
                title=f'{name}: mean of W per step')
            paths['w_per_step_png'], paths['w_per_step_csv'] = png, table
        paths['trajectory'] = save_trajectory(
            [(t, x0[i]) for t, x0 in recorder.trajectory], stem + '_trajectory.png',
            reference=ref, gt=gt, rgb_bands=rgb_bands, title=f'{name}: x$_{{0,t}}$, T → 0')
        written.append(paths)
    return written
