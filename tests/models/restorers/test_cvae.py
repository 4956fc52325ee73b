"""CVAERestorer: 10-sample training loss, stochastic / averaged / deterministic inference, configs."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from crbench.datasets.synthetic import write_cuhk, write_rice, write_sen12mscr, write_sen2mtc
from crbench.models.restorers import CVAERestorer
from crbench.registry import DATASETS, MODELS
from crbench.structures import CRDataSample

TINY = dict(type='CVAE', in_channels=4, image_size=32, embed_dim=32, depth=1, num_heads=2,
            latent_dim=8)
DATASETS_ = ('cuhkcr1', 'cuhkcr2', 'sen12mscr', 'sen2mtc_new', 'rice1', 'rice2')
BANDS = {'cuhkcr1': 4, 'cuhkcr2': 4, 'sen12mscr': 13, 'sen2mtc_new': 3, 'rice1': 3, 'rice2': 3}
MAX_ITERS = {'cuhkcr1': 53400, 'cuhkcr2': 44800, 'rice1': 40000, 'rice2': 58800,
             'sen12mscr': 100000, 'sen2mtc_new': 238000}


def cvae_params(bands):
    # docs/models.md §0: 15,418,847 (3 bands) and 15,690,464 (4 bands, the runnable 4-band decoder
    # table); each band adds 271,617 (patch embedding, latent map, the convs that read the image).
    return 15_418_847 + 271_617 * (bands - 3)


def batch(bands=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = [CRDataSample(gt=torch.rand(bands, size, size, generator=g) * 2 - 1) for _ in range(2)]
    return dict(inputs=dict(cloudy=torch.rand(2, bands, size, size, generator=g) * 2 - 1),
                data_samples=samples)


class Recorder:
    """Wraps the generator's forward and keeps what each call returned."""

    def __init__(self, net):
        self.calls = []
        original = net.generator.forward

        def forward(x, sample=True, generator=None):
            out = original(x, sample=sample, generator=generator)
            self.calls.append((x, sample, out))
            return out
        net.generator.forward = forward


def test_training_loss_averages_ten_samples_as_officially():
    torch.manual_seed(0)
    net = CVAERestorer(generator=TINY)
    rec = Recorder(net)
    data = batch()
    losses = net.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_pixel', 'loss_kl', 'loss_edge'}
    assert len(rec.calls) == 10 and all(sample for _, sample, _ in rec.calls)
    # each call draws a new latent
    assert not torch.equal(rec.calls[0][2][1], rec.calls[1][2][1])
    mu = sum(c[2][0][0] for c in rec.calls) / 10
    logvar = sum(c[2][0][1] for c in rec.calls) / 10
    pred = sum(c[2][1] for c in rec.calls) / 10
    target = (torch.stack([s.gt for s in data['data_samples']]) + 1) / 2   # official [0, 1]
    torch.testing.assert_close(rec.calls[0][0], (data['inputs']['cloudy'] + 1) / 2)
    torch.testing.assert_close(losses['loss_pixel'], F.smooth_l1_loss(pred, target, beta=0.5))
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())
    torch.testing.assert_close(losses['loss_kl'], 0.01 * kl)
    k = torch.tensor([[-1., -1, -1], [-1, 8, -1], [-1, -1, -1]]).expand(3, 1, 3, 3)
    edge = F.l1_loss(F.conv2d(pred[:, :3], k, padding=1, groups=3),
                     F.conv2d(target[:, :3], k, padding=1, groups=3))
    torch.testing.assert_close(losses['loss_edge'], 0.18 * edge)


def test_train_step_updates_the_network_and_logs_every_term():
    torch.manual_seed(0)
    net = CVAERestorer(generator=TINY, num_samples=2)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    optim = build_optim_wrapper(net, dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999),
                                                         weight_decay=1e-5)))
    log = net.train_step(batch(), optim)
    assert {'loss', 'loss_pixel', 'loss_kl', 'loss_edge'} <= set(log)
    assert all(torch.isfinite(v) for v in log.values())
    moved = [n for n, p in net.named_parameters() if not torch.equal(before[n], p)]
    assert 'generator.encoder.to_mu.weight' in moved and 'generator.decoder.head.2.weight' in moved


def test_inference_modes():
    torch.manual_seed(0)
    data = batch()
    official = CVAERestorer(generator=TINY).eval()
    rec = Recorder(official)
    with torch.no_grad():
        a, b = official(data['inputs'], mode='tensor'), official(data['inputs'], mode='tensor')
    assert len(rec.calls) == 2 and not torch.equal(a, b)        # one stochastic sample each
    assert a.shape == (2, 4, 32, 32) and a.abs().max() <= 1

    mean = CVAERestorer(generator=TINY, test_samples=5).eval()
    mean.load_state_dict(official.state_dict())
    rec = Recorder(mean)
    with torch.no_grad():
        pred = mean(data['inputs'], mode='tensor')
    assert len(rec.calls) == 5
    expected = (sum(c[2][1] for c in rec.calls) / 5) * 2 - 1
    torch.testing.assert_close(pred, expected.clamp(-1, 1))

    fixed = CVAERestorer(generator=TINY, test_samples=5, test_sample=False).eval()
    fixed.load_state_dict(official.state_dict())
    rec = Recorder(fixed)
    with torch.no_grad():
        c, d = fixed(data['inputs'], mode='tensor'), fixed(data['inputs'], mode='tensor')
    torch.testing.assert_close(c, d, rtol=0, atol=0)
    assert len(rec.calls) == 2 and not any(sample for _, sample, _ in rec.calls)
    out = fixed.predict(data['inputs'], data['data_samples'])
    torch.testing.assert_close(out[0].pred, c[0])


def test_time_axis_is_folded_and_errors_are_clear():
    net = CVAERestorer(generator=dict(TINY, in_channels=3))
    data = batch(bands=3)
    data['inputs']['cloudy'] = data['inputs']['cloudy'][:, None]       # mono-temporal 1xCxHxW
    assert torch.isfinite(sum(net.loss(data['inputs'], data['data_samples']).values()))
    with pytest.raises(KeyError, match='sar'):
        CVAERestorer(generator=TINY, input_keys=('cloudy', 'sar')).loss(
            batch()['inputs'], batch()['data_samples'])
    with pytest.raises(KeyError, match='loss_weights'):
        CVAERestorer(generator=TINY, loss_weights=dict(perceptual=1.0))
    with pytest.raises(ValueError, match='num_samples'):
        CVAERestorer(generator=TINY, num_samples=0)
    wrong = batch()
    wrong['data_samples'] = batch(bands=3)['data_samples']
    with pytest.raises(ValueError, match='does not match the target'):
        CVAERestorer(generator=TINY, edge_loss=None).loss(wrong['inputs'], wrong['data_samples'])


# ----------------------------------------------------------------------------------------
# Zoo configs
# ----------------------------------------------------------------------------------------
def config(repo_root, dataset):
    return Config.fromfile(osp.join(repo_root, 'configs', 'cvae', f'cvae_{dataset}.py'))


@pytest.mark.parametrize('dataset', DATASETS_)
def test_cvae_config_builds_with_documented_counts(repo_root, dataset):
    cfg = config(repo_root, dataset)
    assert cfg.model_name == 'cvae'
    with torch.device('meta'):
        net = MODELS.build(copy.deepcopy(cfg.model.to_dict()))
    assert isinstance(net, CVAERestorer)
    assert sum(p.numel() for p in net.generator.parameters()) == cvae_params(BANDS[dataset])
    assert net.num_samples == 10 and net.test_samples == 1 and net.test_sample
    assert net.loss_weights == dict(pixel=1.0, kl=0.01, edge=0.18)
    assert net.losses['pixel'].beta == 0.5 and net.losses['kl'].reduction == 'sum'
    assert net.losses['edge'].bands == ('all' if dataset == 'sen12mscr' else 'first3')
    assert net.range.as_tuple() == (0.0, 1.0) and net.generator.image_size == 256
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, betas=(0.5, 0.999),
                                               weight_decay=1e-5)
    assert cfg.train_cfg.max_iters == MAX_ITERS[dataset] and cfg.train_dataloader.batch_size == 2
    if dataset == 'sen2mtc_new':
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[key].dataset.mono_temporal == 0


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    top = str(tmp_path_factory.mktemp('cvae_data'))
    cuhk = write_cuhk(top, 'CUHK-CR1', {'train': 3, 'test': 1}, size=64)  # 2 train + 1 val
    write_cuhk(top, 'CUHK-CR2', {'train': 3, 'test': 1}, size=64)
    rice = write_rice(top, counts={1: 5, 2: 5}, size=64)
    return {'cuhkcr1': osp.join(cuhk, 'CUHK-CR1'), 'cuhkcr2': osp.join(cuhk, 'CUHK-CR2'),
            'rice1': rice, 'rice2': rice,
            'sen12mscr': write_sen12mscr(top, patches_per_scene=1, size=32),
            'sen2mtc_new': write_sen2mtc(top, images_per_tile=1, size=32)}


@pytest.mark.parametrize('dataset', DATASETS_)
def test_cvae_config_pipeline_feeds_its_network(repo_root, roots, dataset):
    cfg = config(repo_root, dataset)
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    # the synthetic images are 32x32; everything else is the config's
    model_cfg['generator'].update(image_size=32, embed_dim=64, depth=1)
    model_cfg['num_samples'] = 2
    torch.manual_seed(0)
    net = MODELS.build(model_cfg)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = roots[dataset]
    if dataset == 'rice1':
        ds_cfg.split_file = None
    ds = DATASETS.build(ds_cfg)
    data = net.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    losses = net.loss(data['inputs'], data['data_samples'])
    assert all(torch.isfinite(v) for v in losses.values())
    with torch.no_grad():
        pred = net(data['inputs'], mode='tensor')
    assert pred.shape == (2, BANDS[dataset], 32, 32)
