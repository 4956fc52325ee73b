"""EMRDM framework (crbench/models/diffusion/emrdm.py) against closed forms and paper values.

Reference values: docs/models.md §3.1 (preconditioning examples for alpha = 3), EMRDM
Eqs. 6, 13-18 and Appendix A.3 (unit-variance derivation), EDM (Karras et al.
2022) Table 1 for the s(t) = 1 limit, LitEma's warm-up for the EMA.
"""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import nn

from crbench.datasets.synthetic import write_cuhk
from crbench.models.diffusion.emrdm import EMRDM
from crbench.models.diffusion.processes import MeanRevertingEDM
from crbench.registry import MODELS
from crbench.structures import CRDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


# ---- tiny test networks (kept in the tests) -------------------------------------
@MODELS.register_module(force=True)
class TinyEMRDMNet(nn.Module):
    """conv - (+ noise embedding) - SiLU - conv; records its last input."""

    def __init__(self, in_channels=8, out_channels=4, width=8):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.emb = nn.Linear(1, width)
        self.conv2 = nn.Conv2d(width, out_channels, 3, padding=1)
        self.last_input = None

    def forward(self, x, c_noise):
        self.last_input = (x.detach().clone(), c_noise.detach().clone())
        h = self.conv1(x) + self.emb(c_noise.reshape(-1, 1).to(x))[:, :, None, None]
        return self.conv2(nn.functional.silu(h))


@MODELS.register_module(force=True)
class TinyTemporalEMRDMNet(TinyEMRDMNet):
    """Per-frame TinyEMRDMNet averaged over frames; returns (out, attn) like TemporalHDiT."""

    def forward(self, x, c_noise):
        b, t = x.shape[:2]
        out = super().forward(x.flatten(0, 1), c_noise.repeat_interleave(t))
        self.last_input = (x.detach().clone(), c_noise.detach().clone())
        return out.view(b, t, *out.shape[1:]).mean(dim=1), None


def _samples(gt):
    return [CRDataSample(gt=g) for g in gt]


def _edm(sigma, sd):
    """EDM Table 1 preconditioning and loss weight."""
    return (sd ** 2 / (sigma ** 2 + sd ** 2), sigma * sd / math.sqrt(sigma ** 2 + sd ** 2),
            1 / math.sqrt(sigma ** 2 + sd ** 2), 0.25 * math.log(sigma),
            (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2)


# ---- preconditioning ------------------------------------------------------------
@pytest.mark.parametrize('sigma, skip, out, c_in, tol', [
    (0.25, 0.563, 0.239, 0.580, 5e-4),
    (1.0, 0.226, 0.407, 0.247, 5e-4),
    (100.0, 0.0027, 0.519, 0.0032, 5e-5)])
def test_preconditioning_example_values(sigma, skip, out, c_in, tol):
    c_skip, c_out, ci, c_noise = MeanRevertingEDM(alpha=3.0).scalings(sigma)
    assert c_skip == pytest.approx(skip, abs=tol)
    assert c_out == pytest.approx(out, abs=5e-4)
    assert ci == pytest.approx(c_in, abs=tol)
    assert c_noise == pytest.approx(0.25 * math.log(sigma))


@pytest.mark.parametrize('kwargs', [dict(mean_reverting=False, alpha=3.0),
                                    dict(alpha=0.0),
                                    dict(alpha=3.0, sigma_mu=0.0, sigma_cov=0.0)])
@pytest.mark.parametrize('sd', [0.5, 1.0])
def test_s_equal_one_and_zero_mu_stats_reduce_to_edm(kwargs, sd):
    kw = dict(dict(sigma_mu=1.0, sigma_cov=0.4), **kwargs)
    process = MeanRevertingEDM(sigma_data=sd, **kw)
    for sigma in (0.002, 0.3, 2.0, 80.0):
        got = (*process.scalings(sigma), process.loss_weight(sigma))
        assert got == pytest.approx(_edm(sigma, sd), rel=1e-12)
    if not kwargs.get('mean_reverting', True) or kwargs.get('alpha') == 0.0:
        assert process.k(5.0) == 0 and process.s(5.0) == 1.0  # s(t) = 1: no mean shift


def test_multi_temporal_uses_sigma_squared_over_l():
    p = MeanRevertingEDM(alpha=3.0)
    sigma = torch.tensor([0.1, 1.0, 7.0], dtype=torch.float64)
    for frames in (1, 2, 3):
        c_skip, c_out, c_in, _ = p.scalings(sigma, frames)
        k, sd2 = 3.0 * sigma, 1.0
        den = sd2 + k ** 2 + sigma ** 2 / frames + 2 * 0.9 * k
        assert torch.allclose(c_skip, (sd2 + 0.9 * k) / den)
        assert torch.allclose(c_out ** 2, (k ** 2 + sigma ** 2 / frames - (0.9 * k) ** 2) / den)
        assert torch.allclose(c_in, (sd2 + k ** 2 + sigma ** 2 + 1.8 * k) ** -0.5)  # sigma^2
        assert torch.allclose(p.loss_weight(sigma, frames), 1 / c_out ** 2)  # Eq. 18


@pytest.mark.parametrize('frames', [1, 2, 3])
def test_unit_variance_of_network_input_and_effective_target(frames):
    """App. A.3 Eqs. 60 and 69 under Assumptions A.1-A.3, by Monte Carlo."""
    g = torch.Generator().manual_seed(0)
    n, sd, smu, scov = 400_000, 1.0, 1.0, 0.9
    p = MeanRevertingEDM(alpha=3.0, sigma_data=sd, sigma_mu=smu, sigma_cov=scov)
    z1, z2 = torch.randn(2, n, generator=g, dtype=torch.float64)
    x0 = sd * z1
    mu = (scov / sd) * z1 + math.sqrt(smu ** 2 - scov ** 2 / sd ** 2) * z2  # Cov(x0, mu) = scov
    mu_frames = mu[:, None].expand(n, frames)  # A.3: identical corrupted frames
    for sigma in (0.05, 0.7, 4.0, 60.0):
        noise = torch.randn(n, frames, generator=g, dtype=torch.float64)
        x = p.perturb(x0[:, None], mu_frames, sigma, noise)
        c_skip, c_out, c_in, _ = p.scalings(sigma, frames)
        assert (c_in * x[:, 0]).var().item() == pytest.approx(1.0, rel=0.01)  # Eq. 60
        target = (x0 - c_skip * x.mean(dim=1)) / c_out  # Eq. 59 effective target
        assert target.var().item() == pytest.approx(1.0, rel=0.01)  # Eq. 69


def test_perturbation_statistics_eq6():
    g = torch.Generator().manual_seed(1)
    p = MeanRevertingEDM(alpha=3.0)
    x0 = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    mu = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    sigma = torch.tensor([0.01, 0.3, 2.0, 50.0])
    noise = torch.randn(x0.shape, generator=g)
    x = p.perturb(x0, mu, sigma, noise)
    resid = x - x0 - 3.0 * sigma.view(-1, 1, 1, 1) * mu
    assert torch.allclose(resid.flatten(1).std(dim=1), sigma, rtol=0.03)
    assert resid.flatten(1).mean(dim=1).abs().div(sigma).max() < 0.03
    # x(t) = s x_sigma: its mean s x0 + (1 - s) mu reverts to the cloudy image (Eq. 4-6)
    s = p.s(sigma).view(-1, 1, 1, 1)
    assert torch.allclose(s * (x0 + 3.0 * sigma.view(-1, 1, 1, 1) * mu), s * x0 + (1 - s) * mu,
                          atol=1e-5)
    # x(t) = s x_sigma ~ N(s x0 + (1 - s) mu, (s sigma)^2): s sigma -> 1/alpha as sigma grows
    spread = (s * x - s * x0 - (1 - s) * mu).flatten(1).std(dim=1)
    assert torch.allclose(spread, s.flatten() * sigma, rtol=0.03)


def test_invalid_process_arguments_are_named():
    with pytest.raises(ValueError, match='sigma_cov'):
        MeanRevertingEDM(sigma_mu=0.5, sigma_cov=0.9)
    with pytest.raises(ValueError, match='alpha'):
        MeanRevertingEDM(alpha=-1)
    with pytest.raises(ValueError, match='sigma_min'):
        MeanRevertingEDM(sigma_min=10, sigma_max=1)


# ---- framework ---------------------------------------------------------------------
def _model(**kwargs):
    cfg = dict(network=dict(type='TinyEMRDMNet', in_channels=8, out_channels=4),
               sampler=dict(type='EulerSampler', num_steps=3))
    cfg.update(kwargs)
    return EMRDM(**cfg).double()


def test_loss_is_lambda_weighted_l2_and_unit_weight_on_f():
    torch.manual_seed(0)
    model = _model()
    x0 = torch.rand(3, 4, 8, 8, dtype=torch.float64) * 2 - 1
    mu = torch.rand(3, 4, 8, 8, dtype=torch.float64) * 2 - 1
    sigma = torch.tensor([0.05, 0.8, 20.0], dtype=torch.float64)
    noise = torch.randn_like(mu)
    loss = model.diffusion_loss(x0, mu, mu, sigma, noise)

    p = model.process
    x = x0 + 3.0 * sigma.view(-1, 1, 1, 1) * mu + sigma.view(-1, 1, 1, 1) * noise  # Eq. 6
    c_skip, c_out, c_in, c_noise = (v.view(-1, 1, 1, 1) for v in p.scalings(sigma))
    f = model.network(torch.cat([c_in * x, mu], dim=1), c_noise.flatten())
    net_in, net_noise = model.network.last_input
    assert torch.equal(net_in[:, :4], c_in * x) and torch.equal(net_in[:, 4:], mu)
    assert torch.allclose(net_noise, 0.25 * sigma.log())
    d = c_skip * x + c_out * f  # Eq. 13
    want = ((d - x0) ** 2).flatten(1).mean(1).div(c_out.flatten() ** 2).mean()  # Eq. 18
    assert loss.item() == pytest.approx(want.item(), rel=1e-10)
    # lambda c_out^2 = 1: the same loss on F against the effective target of Eq. 59
    eff = ((f - (x0 - c_skip * x) / c_out) ** 2).mean()
    assert loss.item() == pytest.approx(eff.item(), rel=1e-10)


def test_temporal_loss_and_denoiser_mean_over_frames():
    torch.manual_seed(1)
    model = _model(network=dict(type='TinyTemporalEMRDMNet', in_channels=7, out_channels=3),
                   mean_bands=[0, 1, 2])
    cloudy = torch.rand(2, 3, 4, 8, 8, dtype=torch.float64) * 2 - 1
    mu, cond = model.split_inputs(dict(cloudy=cloudy))
    assert torch.equal(mu, cloudy[:, :, :3]) and torch.equal(cond, cloudy)
    x0 = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    sigma = torch.tensor([0.3, 3.0], dtype=torch.float64)
    noise = torch.randn_like(mu)
    loss = model.diffusion_loss(x0, mu, cond, sigma, noise)
    sb = sigma.view(-1, 1, 1, 1, 1)
    x = x0[:, None] + 3.0 * sb * mu + sb * noise  # independent noise per frame, shared x0
    c_skip, c_out, c_in, _ = model.process.scalings(sigma, 3)
    f, _ = model.network(torch.cat([c_in.view(-1, 1, 1, 1, 1) * x, cond], dim=2),
                         0.25 * sigma.log())
    assert model.network.last_input[0].shape == (2, 3, 7, 8, 8)
    d = (c_skip.view(-1, 1, 1, 1, 1) * x).mean(1) + c_out.view(-1, 1, 1, 1) * f  # Eq. 13
    want = (((d - x0) ** 2).flatten(1).mean(1) / c_out ** 2).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-10)


def test_sigma_sampling_is_log_normal():
    model = _model(p_mean=-1.2, p_std=1.2)
    torch.manual_seed(2)
    log_sigma = model.sample_sigma(200_000, torch.zeros(1)).log()
    assert log_sigma.mean().item() == pytest.approx(-1.2, abs=0.01)
    assert log_sigma.std().item() == pytest.approx(1.2, rel=0.01)


def test_sar_condition_order_and_band_checks():
    model = _model(network=dict(type='TinyEMRDMNet', in_channels=28, out_channels=13))
    cloudy = torch.rand(2, 13, 8, 8, dtype=torch.float64)
    sar = torch.rand(2, 2, 8, 8, dtype=torch.float64)
    mu, cond = model.split_inputs(dict(cloudy=cloudy, sar=sar))
    assert torch.equal(mu, cloudy) and torch.equal(cond, torch.cat([sar, cloudy], 1))
    losses = model.loss(dict(cloudy=cloudy, sar=sar), _samples(torch.rand(2, 13, 8, 8)))
    assert set(losses) == {'loss'} and torch.isfinite(losses['loss'])
    x = model.network.last_input[0]
    assert x.shape[1] == 28 and torch.equal(x[:, 13:15], sar) and torch.equal(x[:, 15:], cloudy)

    with pytest.raises(KeyError, match="inputs\\['cloudy'\\]"):
        model.loss(dict(sar=sar), _samples(torch.rand(2, 13, 8, 8)))
    with pytest.raises(ValueError, match='mean_bands'):
        model.loss(dict(cloudy=cloudy, sar=sar), _samples(torch.rand(2, 3, 8, 8)))
    with pytest.raises(ValueError, match='mean_bands'):
        _model(mean_bands=[0, 7]).split_inputs(dict(cloudy=torch.rand(1, 4, 8, 8)))


def test_no_condition_for_config_a():
    model = _model(network=dict(type='TinyTemporalEMRDMNet', in_channels=3, out_channels=3),
                   mean_reverting=False, sigma_mu=0.0, sigma_cov=0.0, cond_bands=[],
                   mean_bands=[0, 1, 2])
    cloudy = torch.rand(2, 3, 4, 8, 8, dtype=torch.float64)
    mu, cond = model.split_inputs(dict(cloudy=cloudy))
    assert cond is None
    out = model.restore(dict(cloudy=cloudy))
    assert out.shape == (2, 3, 8, 8)
    assert model.network.last_input[0].shape == (2, 3, 3, 8, 8)


@pytest.mark.parametrize('frames', [None, 1, 2, 3])
def test_restore_shapes_and_seed(frames):
    if frames is None:
        model = _model(sampling_seed=7,
                       sampler=dict(type='StochasticEulerSampler', num_steps=4, s_churn=2.5))
        cloudy = torch.rand(2, 4, 8, 8, dtype=torch.float64)
    else:
        model = _model(network=dict(type='TinyTemporalEMRDMNet', in_channels=7, out_channels=3),
                       mean_bands=[0, 1, 2], sampling_seed=7,
                       sampler=dict(type='StochasticEulerSampler', num_steps=5, s_churn=1.0,
                                    s_tmax=100.0))
        cloudy = torch.rand(2, frames, 4, 8, 8, dtype=torch.float64)
    a, b = model.restore(dict(cloudy=cloudy)), model.restore(dict(cloudy=cloudy))
    assert a.shape == (2, 4 if frames is None else 3, 8, 8)
    assert torch.equal(a, b) and torch.isfinite(a).all()
    samples = model.predict(dict(cloudy=cloudy), _samples(torch.zeros(2, *a.shape[1:])))
    assert torch.equal(torch.stack([s.pred for s in samples]), a)


# ---- MMEngine Runner on synthetic CUHK-CR2 ------------------------------------------------
TINY_HDIT = dict(type='HDiT', in_channels=8, out_channels=4, patch_size=1, widths=[16, 32],
                 depths=[1, 1], d_ffs=[32, 64],
                 self_attns=[dict(type='neighborhood', d_head=8, kernel_size=3),
                             dict(type='global', d_head=8)],
                 dropout_rate=[0.0, 0.0], mapping_depth=1, mapping_width=32, mapping_d_ff=64,
                 mapping_dropout_rate=0.0)


class _EMARecorder(Hook):
    """Runs after EMAHook (priority LOW): records raw weights and what val/test see."""

    priority = 'LOW'

    def __init__(self, store):
        self.store = store

    @staticmethod
    def _params(runner):
        return [p.detach().clone() for p in runner.model.parameters()]

    def before_train(self, runner):
        self.store['theta0'] = self._params(runner)
        self.store['raw'] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.store['raw'].append(self._params(runner))

    def before_val_epoch(self, runner):
        self.store['val'] = self._params(runner)

    def before_test_epoch(self, runner):
        self.store['test'] = self._params(runner)


def _probe_loss(model, batch, sigmas=(0.05, 0.2, 0.5, 1.0)):
    data = model.data_preprocessor(batch, training=False)
    mu, cond = model.split_inputs(data['inputs'])
    x0 = model.targets(data['data_samples'])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return sum(model.diffusion_loss(x0, mu, cond, torch.full((x0.shape[0],), s),
                                        torch.randn(mu.shape, generator=g)).item()
                   for s in sigmas)


def test_runner_trains_tiny_emrdm_and_evaluates_with_ema(tmp_path):
    root = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 4, 'test': 2}, size=32)
    data_root = osp.join(root, 'CUHK-CR2')
    cfg = Config.fromfile(osp.join(REPO, 'configs/emrdm/emrdm_cuhkcr2.py'))
    assert cfg.model.sampler.s_churn == 2.5 and cfg.model.p_mean == -1.2
    cfg.model.network = TINY_HDIT
    cfg.optim_wrapper.optimizer.lr = 2e-3  # a few iterations must move a tiny network
    iters = 30
    loader = dict(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.update(batch_size=2, **loader)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.val_dataloader.update(**loader)
    cfg.val_dataloader.dataset.data_root = data_root
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1, save_best=None)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'

    store = {}
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_EMARecorder(store))
    # a probe batch straight from the dataset (iterating the loader here would close the
    # InfiniteSampler's shared index generator)
    dataset = runner.train_dataloader.dataset
    batch = pseudo_collate([dataset[0], dataset[1]])
    assert batch['inputs']['cloudy'][0].shape == (4, 16, 16)
    before = _probe_loss(runner.model, batch)
    runner.train()
    after = _probe_loss(runner.model, batch)
    assert after < 0.9 * before, (before, after)  # measured 10.37 -> 4.85
    logged = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(logged) == iters and all(math.isfinite(v) for v in logged)
    assert sum(logged[-10:]) < sum(logged[:10])  # the training loss falls as well

    # EMA: theta_0 then n = 1..iters updates with min(0.9999, (1 + n)/(10 + n))
    ema = store['theta0']
    for n, raw in enumerate(store['raw'], start=1):
        d = min(0.9999, (1 + n) / (10 + n))
        ema = [d * e + (1 - d) * r for e, r in zip(ema, raw)]
    assert len(store['raw']) == iters
    for e, v, r in zip(ema, store['val'], store['raw'][-1]):
        assert torch.allclose(v, e, atol=1e-5)  # validation ran on the EMA weights
    assert max((v - r).abs().max().item() for v, r in zip(store['val'], store['raw'][-1])) > 1e-4

    # test from the saved checkpoint: a fresh Runner must also evaluate the EMA weights
    cfg.load_from = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    cfg.work_dir = str(tmp_path / 'work_test')
    cfg.visualizer.name = 'emrdm_test_visualizer'
    tester = Runner.from_cfg(cfg)
    tester.register_hook(_EMARecorder(store))
    metrics = tester.test()
    for e, t in zip(ema, store['test']):
        assert torch.allclose(t, e, atol=1e-5)
    assert {'PSNR', 'SSIM', 'RMSE'} <= set(metrics) and math.isfinite(metrics['PSNR'])


@pytest.mark.parametrize('frames', [None, 1, 2, 3])
def test_hdit_networks_through_the_framework(frames):
    """The real HDiT / TemporalHDiT (tiny) train and sample inside EMRDM."""
    torch.manual_seed(4)
    if frames is None:
        net = dict(TINY_HDIT)
        cloudy = torch.rand(2, 4, 8, 8) * 2 - 1
        kwargs = {}
    else:
        net = dict(TINY_HDIT, type='TemporalHDiT', in_channels=7, out_channels=3,
                   temporal_n_heads=4, temporal_d_k=4, temporal_d_ff=32)
        cloudy = torch.rand(2, frames, 4, 8, 8) * 2 - 1
        kwargs = dict(mean_bands=[0, 1, 2])
    model = EMRDM(network=net, sampler=dict(type='StochasticEulerSampler', num_steps=3,
                                            s_churn=1.0), **kwargs)
    gt = torch.rand(2, 3 if frames else 4, 8, 8) * 2 - 1
    loss = model.loss(dict(cloudy=cloudy), _samples(gt))['loss']
    loss.backward()
    assert torch.isfinite(loss)
    assert model.network.patch_out.proj.weight.grad.abs().sum() > 0  # zero-init head learns
    with torch.no_grad():
        # zero-initialised output head: F = 0, so D = mean_l(c_skip x_l) exactly
        sigma = torch.tensor([0.5, 2.0])
        mu, cond = model.split_inputs(dict(cloudy=cloudy))
        x = model.process.perturb(gt, mu, sigma, torch.randn_like(mu))
        c_skip = model.process.scalings(sigma, 1 if frames is None else frames)[0]
        skip = c_skip.view(-1, *([1] * (x.dim() - 1))) * x
        want = skip if frames is None else skip.mean(1)
        assert torch.allclose(model.denoise(x, sigma, cond), want, atol=1e-6)
    assert model.restore(dict(cloudy=cloudy)).shape == gt.shape


@pytest.mark.parametrize('sampler', [dict(type='DPMSolverPP2MSampler', num_steps=4),
                                     dict(type='DPMSolverPP2MSDESampler', num_steps=4)])
def test_dpm_solver_samplers_through_the_config(sampler):
    """Any registered sampler for EMRDM's process runs from the config, in inference mode,
    mono- and multi-temporal, and DE-only samplers are refused with a clear error."""
    torch.manual_seed(5)
    model = _model(sampler=sampler, sampling_seed=1)
    modes = []
    model.network.register_forward_hook(
        lambda *a: modes.append(torch.is_inference_mode_enabled()))
    cloudy = torch.rand(2, 4, 8, 8, dtype=torch.float64) * 2 - 1
    out = model.restore(dict(cloudy=cloudy))
    assert out.shape == (2, 4, 8, 8) and torch.isfinite(out).all() and not out.is_inference()
    assert len(modes) == 4 and all(modes)
    assert torch.equal(out, model.restore(dict(cloudy=cloudy)))
    temporal = _model(network=dict(type='TinyTemporalEMRDMNet', in_channels=7, out_channels=3),
                      mean_bands=[0, 1, 2], sampler=sampler)
    frames = torch.rand(2, 3, 4, 8, 8, dtype=torch.float64) * 2 - 1
    assert temporal.restore(dict(cloudy=frames)).shape == (2, 3, 8, 8)
    with pytest.raises(TypeError, match='DDIMSampler cannot integrate a MeanRevertingEDM'):
        _model(sampler=dict(type='DDIMSampler', num_steps=3))  # at build, before any training
