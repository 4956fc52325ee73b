"""DE framework: stages, fusion modes, losses (DE Eqs. 7, 9, 12, 16, 17), reference prior."""
import math

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from crbench.models.data_preprocessor import CRDataPreprocessor
from crbench.models.diffusion.de import DiffusionEnhancement
from crbench.models.diffusion.networks.adm_unet import DECNP, DEWeightNet
from crbench.registry import MODELS
from crbench.structures import CRDataSample


@MODELS.register_module(name='DETestTinyReference', force=True)
class TinyReference(nn.Module):
    """A 1x1 convolution returning ``(stage, image)`` like the collection's networks."""

    def __init__(self, bands: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(bands, bands, 1)

    def forward(self, x):
        return 1, self.conv(x)


TINY = dict(model_channels=16, channel_mult=(1, 2), norm_groups=8, attention_downsample=(2,))


@pytest.fixture
def ref_ckpt(tmp_path):
    """An MMEngine-style checkpoint of a supervised restorer: weights under 'generator.'."""
    net = TinyReference()
    with torch.no_grad():  # E(x) = 0.5 x
        net.conv.weight.copy_(0.5 * torch.eye(4).view(4, 4, 1, 1))
        net.conv.bias.zero_()
    state = {f'generator.{k}': v for k, v in net.state_dict().items()}
    state['discriminator.fc.weight'] = torch.ones(3)
    path = tmp_path / 'reference.pth'
    torch.save({'meta': {'epoch': 3}, 'state_dict': state}, path)
    return str(path)


def build(ref_ckpt=None, stage=3, fusion='wa', **kw):
    cfg = dict(type='DiffusionEnhancement',
               cnp=dict(type='DECNP', num_bands=4, num_heads=2, **TINY),
               weight_net=dict(type='DEWeightNet', num_bands=4, **TINY),
               reference=dict(type='DETestTinyReference'), reference_checkpoint=ref_ckpt,
               stage=stage, fusion=fusion, sampler=dict(type='DDIMSampler', num_steps=3),
               data_preprocessor=CRDataPreprocessor())
    cfg.update(kw)
    return MODELS.build(cfg)


def batch(n=2, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    cloudy = torch.rand(n, 4, size, size, generator=g) * 2 - 1
    samples = [CRDataSample(gt=torch.rand(4, size, size, generator=g) * 2 - 1) for _ in range(n)]
    return cloudy, samples


@pytest.mark.filterwarnings('ignore:.*meta parameter')
def test_full_size_counts_per_stage(ref_ckpt):
    """Trainable parameters per stage with the official networks (docs/models.md section 0)."""
    def trainable(m):
        return sum(p.numel() for p in m.parameters() if p.requires_grad)

    full = dict(cnp=dict(type='DECNP', num_bands=4), weight_net=dict(type='DEWeightNet'))
    with torch.device('meta'):
        models = {s: build(ref_ckpt, stage=s, **full) for s in (1, 2, 3)}
    assert trainable(models[1]) == 32_144_740
    assert trainable(models[2]) == 4_660_484
    assert trainable(models[3]) == 36_805_224
    assert not any(p.requires_grad for p in models[3].reference.parameters())


def test_reference_loading_and_state_dict(ref_ckpt):
    model = build(ref_ckpt)
    torch.testing.assert_close(model.reference.network.conv.weight[:, :, 0, 0], 0.5 * torch.eye(4))
    sd = model.state_dict()
    assert not any(k.startswith('reference.') for k in sd)  # E lives in its own checkpoint
    assert any(k.startswith('cnp.') for k in sd) and any(k.startswith('weight_net.') for k in sd)
    build(ref_ckpt).load_state_dict(sd, strict=True)  # DE checkpoints reload strictly
    model.train()
    assert model.cnp.training and not model.reference.training


def test_reference_checkpoint_formats(tmp_path):
    net = TinyReference()
    plain, ddp = tmp_path / 'plain.pth', tmp_path / 'ddp.pth'
    torch.save(net.state_dict(), plain)
    torch.save({'state_dict': {f'module.net.{k}': v for k, v in net.state_dict().items()}}, ddp)
    for path in (plain, ddp):
        model = build(str(path))
        torch.testing.assert_close(model.reference.network.conv.weight, net.conv.weight)
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'something.else': torch.ones(1)}}, bad)
    with pytest.raises(KeyError, match='conv.weight'):
        build(str(bad))


def test_missing_reference_checkpoint_names_the_training_command(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError) as err:
        build(missing)
    assert 'python tools/train.py configs/<model>/<model>_<dataset>.py' in str(err.value)
    assert missing in str(err.value)
    with pytest.raises(FileNotFoundError, match='python tools/train.py configs/memorynet/'
                                                'memorynet_cuhkcr2.py'):
        build(missing, reference_train_config='configs/memorynet/memorynet_cuhkcr2.py')
    with pytest.raises(FileNotFoundError, match='python tools/train.py'):
        build(None, fusion='fixed', stage=1)
    # pure diffusion needs no reference at all
    assert build(None, fusion='none', stage=1).reference is None


def test_invalid_combinations(ref_ckpt):
    with pytest.raises(ValueError, match="fusion='wa'"):
        build(ref_ckpt, stage=2, fusion='fixed')
    with pytest.raises(ValueError, match='stage'):
        build(ref_ckpt, stage=4)
    with pytest.raises(ValueError, match='reference_input_range'):
        build(ref_ckpt, reference_input_range='0_255')


@pytest.mark.parametrize('rng, expected', [('zero_one', lambda y: 0.5 * y - 0.5),
                                           ('minus_one_one', lambda y: 0.5 * y)])
def test_reference_input_range(ref_ckpt, rng, expected):
    """E(y) = 0.5 y: 'zero_one' gives 2 * E((y + 1) / 2) - 1, 'minus_one_one' gives E(y)."""
    cloudy, _ = batch()
    model = build(ref_ckpt, reference_input_range=rng)
    torch.testing.assert_close(model.reference_prior(cloudy), expected(cloudy))


def test_denoiser_fusion_modes_and_eta_clamp(ref_ckpt):
    """With the zero-initialised CNP (eps = 0), x_{0,eps,t} = clamp(x_t / sqrt(abar_t))."""
    cloudy, _ = batch()
    x_t = torch.randn(2, 4, 8, 8) * 3
    t = torch.tensor([500, 500])
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)[500]
    x0_eps = (x_t / math.sqrt(abar)).clamp(-1, 1)
    for fusion, bias, w in [('none', None, None), ('fixed', None, 0.5),
                            ('wa', -5.0, 0.3), ('wa', 0.6, 0.6), ('wa', 5.0, 1.0)]:
        model = build(ref_ckpt if fusion != 'none' else None, fusion=fusion,
                      stage=3 if fusion == 'wa' else 1)
        if bias is not None:
            nn.init.constant_(model.weight_net.out[2].bias, bias)
        ref = model.reference_prior(cloudy) if fusion != 'none' else None
        record = {}
        x0 = model.denoiser(cloudy, ref, record)(x_t, t)
        if w is None:
            torch.testing.assert_close(x0, x0_eps)
        else:  # DE Eq. 12 with W clamped to [0.3, 1] at inference
            torch.testing.assert_close(x0, (1 - w) * x0_eps + w * ref)
            torch.testing.assert_close(record['weight'], torch.full_like(x0, w))
        if fusion == 'wa':  # ... but not in training
            w_train = model.fusion_weight(x_t, t, cloudy, ref, inference=False)
            torch.testing.assert_close(w_train, torch.full_like(x0, bias))


def test_restore_with_w_one_returns_reference(ref_ckpt):
    """W clamped to 1 makes the fused x0 the reference output; DDIM's last step returns it."""
    cloudy, samples = batch()
    model = build(ref_ckpt, sampling_seed=7)
    nn.init.constant_(model.weight_net.out[2].bias, 3.0)
    model.eval()
    pred = model.restore({'cloudy': cloudy})
    torch.testing.assert_close(pred, model.reference_prior(cloudy))
    out = model.predict({'cloudy': cloudy}, samples)
    assert out[0].pred.shape == (4, 8, 8)
    # a fixed sampling seed makes restore reproducible
    model2 = build(ref_ckpt, fusion='fixed', stage=1, sampling_seed=7)
    torch.testing.assert_close(model2.restore({'cloudy': cloudy}),
                               model2.restore({'cloudy': cloudy}))


def test_sample_callback_reports_weights(ref_ckpt):
    cloudy, _ = batch(1)
    model = build(ref_ckpt, sampler=dict(type='DDPMSampler', num_steps=4))
    seen = []
    out = model.sample(cloudy, generator=torch.Generator().manual_seed(0), callback=seen.append)
    assert out.shape == (1, 4, 8, 8) and [s['t'] for s in seen] == [750, 500, 250, 0]
    assert all(s['weight'].min() >= 0.3 and s['reference'].shape == out.shape for s in seen)


def test_eq16_loss_closed_form_without_clamp(ref_ckpt):
    """Stage 2 loss = |gt - ((1 - W) sg(clamp(x_{0,eps,t})) + W x_{0,E})|, W unclamped."""
    cloudy, samples = batch()
    model = build(ref_ckpt, stage=2)
    nn.init.constant_(model.weight_net.out[2].bias, -2.0)
    for p in model.cnp.out.parameters():  # a non-trivial eps prediction
        nn.init.normal_(p, std=0.1)
    torch.manual_seed(11)
    losses = model.loss({'cloudy': cloudy}, samples)
    assert set(losses) == {'loss_wa', 'ddpm_mse'} and not losses['ddpm_mse'].requires_grad
    torch.manual_seed(11)  # same t and noise draws as in loss()
    gt = torch.stack([s.gt for s in samples])
    t = torch.randint(0, 1000, (2,))
    noise = torch.randn_like(gt)
    abar = model.process.alphas_cumprod[t].float().view(-1, 1, 1, 1)
    x_t = abar.sqrt() * gt + (1 - abar).sqrt() * noise  # DE Eq. 4
    with torch.no_grad():
        eps = model.cnp(x_t, t, cloudy)
    x0_eps = ((x_t - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)  # DE Eq. 9
    ref = 0.5 * cloudy - 0.5
    expected = (gt - (3 * x0_eps - 2 * ref)).abs().mean()
    torch.testing.assert_close(losses['loss_wa'], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(losses['ddpm_mse'], (eps - noise).square().mean(),
                               atol=1e-6, rtol=1e-5)


def test_stop_gradient_and_lambda(ref_ckpt):
    """Eq. 16 never reaches the CNP; Eq. 17's lambda scales only the noise MSE."""
    cloudy, samples = batch()
    model = build(ref_ckpt, stage=3)
    for p in model.cnp.out.parameters():
        nn.init.normal_(p, std=0.1)
    losses = model.loss({'cloudy': cloudy}, samples)
    losses['loss_wa'].backward()
    assert all(p.grad is None for p in model.cnp.parameters())
    assert model.weight_net.out[2].weight.grad.abs().sum() > 0
    torch.manual_seed(3)
    l1 = model.loss({'cloudy': cloudy}, samples)
    model.lambda_ddpm = 2.5
    torch.manual_seed(3)
    l2 = model.loss({'cloudy': cloudy}, samples)
    torch.testing.assert_close(l2['loss_ddpm'], 2.5 * l1['loss_ddpm'])
    torch.testing.assert_close(l2['loss_wa'], l1['loss_wa'])


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before))


@pytest.mark.parametrize('stage, cnp_moves, wa_moves, keys', [
    (1, True, False, {'loss_ddpm'}),
    (2, False, True, {'loss_wa', 'ddpm_mse'}),
    (3, True, True, {'loss_ddpm', 'loss_wa'}),
])
def test_train_step_per_stage(ref_ckpt, stage, cnp_moves, wa_moves, keys):
    torch.manual_seed(0)
    model = build(ref_ckpt, stage=stage)
    cloudy, samples = batch()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01))
    cnp0, wa0, ref0 = snapshot(model.cnp), snapshot(model.weight_net), snapshot(model.reference)
    log = model.train_step({'inputs': {'cloudy': list(cloudy)}, 'data_samples': samples}, optim)
    assert keys <= set(log) and all(torch.isfinite(v) for v in log.values())
    assert changed(model.cnp, cnp0) == cnp_moves
    assert changed(model.weight_net, wa0) == wa_moves
    assert not changed(model.reference, ref0)


def test_tiny_network_types(ref_ckpt):
    model = build(None, fusion='none', stage=1)
    assert isinstance(model.cnp, DECNP) and model.weight_net is None
    assert isinstance(build(ref_ckpt).weight_net, DEWeightNet)
    with pytest.raises(ValueError, match='B x C x H x W'):
        model.restore({'cloudy': torch.zeros(1, 2, 4, 8, 8)})


@pytest.mark.parametrize('sampler', [dict(type='DDIMSampler', num_steps=4),
                                     dict(type='DPMSolverPP2MSampler', num_steps=4),
                                     dict(type='DPMSolverPP2MSDESampler', num_steps=3)])
def test_sampling_computes_the_prior_once_in_inference_mode(ref_ckpt, sampler):
    """E runs once per image, not per step; the loop runs under torch.inference_mode;
    any registered sampler for DE's process works through the config."""
    cloudy, _ = batch()
    model = build(ref_ckpt, sampler=sampler, sampling_seed=3).eval()
    calls, modes = [], []
    model.reference.network.register_forward_hook(lambda *a: calls.append(1))
    model.cnp.register_forward_hook(lambda *a: modes.append(torch.is_inference_mode_enabled()))
    pred = model.restore({'cloudy': cloudy})
    assert len(calls) == 1 and len(modes) == sampler['num_steps'] and all(modes)
    assert pred.shape == cloudy.shape and torch.isfinite(pred).all()
    assert not pred.is_inference()  # an ordinary tensor for the caller
    torch.testing.assert_close(pred, model.restore({'cloudy': cloudy}), rtol=0, atol=0)


def test_frozen_reference_keeps_its_checkpoint_weights(ref_ckpt):
    """E's weights come from reference_checkpoint only: a DE state dict never carries or
    overrides them (FrozenReference)."""
    model = build(ref_ckpt)
    sd = model.state_dict()
    sd['reference.network.conv.weight'] = torch.zeros(4, 4, 1, 1)  # a stray copy is ignored
    model.load_state_dict(sd, strict=True)
    torch.testing.assert_close(model.reference.network.conv.weight[:, :, 0, 0],
                               0.5 * torch.eye(4))
    assert not any(p.requires_grad for p in model.reference.parameters())
    model.train()
    assert not model.reference.training and not model.reference.network.training


def test_a_sampler_for_another_process_is_refused_at_build(ref_ckpt):
    with pytest.raises(TypeError, match='EulerSampler cannot integrate a GaussianDiffusion') as e:
        build(ref_ckpt, sampler=dict(type='EulerSampler', num_steps=3))
    assert 'DDIMSampler' in str(e.value) and 'DPMSolverPP2MSampler' in str(e.value)
