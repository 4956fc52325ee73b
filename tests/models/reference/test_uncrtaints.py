"""UnCRtainTS network: official parameter counts (meta device), shapes, dates, and the
strict by-name converter of official checkpoints (crbench/converters/uncrtaints.py).

Output parity with the official network (shared weights, max |diff| <= 2.4e-6 in float32)
was checked outside the repository; see configs/uncrtaints/README.md.
"""
import importlib.util
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import crbench.models  # noqa: F401
from crbench.models.reference.uncrtaints import UnCRtainTS, sinusoid_positions
from crbench.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# Parameter counts of the official UNCRTAINTS built with the official hyper-parameters
# (model_utils.get_generator + parse_args defaults, scale_by 10, MBConv, width 128).
OFFICIAL_PARAMS = {
    'uncrtaints_l2_sen12mscr.py': 518541,      # mono, 15 in, 13 out (L2)
    'uncrtaints_sigma_sen12mscr.py': 520218,   # mono, 15 in, 13 + 13 out (MGNLL diag)
    'uncrtaints_sen2mtc_new.py': 566022,       # L-TAE 16 heads, 4 in, 3 + 3 out
}


@pytest.mark.parametrize('config', sorted(OFFICIAL_PARAMS))
def test_parameter_count_equals_the_official_build(config):
    init_default_scope('crbench')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'uncrtaints', config))
    with torch.device('meta'):
        net = MODELS.build(cfg.model.generator)
    assert sum(p.numel() for p in net.parameters()) == OFFICIAL_PARAMS[config]


def test_sen12mscr_ts_model_parameter_count():
    """The multi-temporal SEN12MS-CR-TS model of the official README (15 in, diag)."""
    with torch.device('meta'):
        net = UnCRtainTS(15, 13, 'diag', positional_encoding=True)
    assert sum(p.numel() for p in net.parameters()) == 570010


TINY = dict(width=8, n_head=4, d_model=8, d_k=2, decoder_blocks=2, scale_by=10.0)


def test_shapes_value_ranges_and_mono_temporal():
    torch.manual_seed(0)
    net = UnCRtainTS(4, 3, 'diag', **TINY, positional_encoding=False).eval()
    out = net(torch.rand(2, 3, 4, 16, 16))
    assert out.shape == (2, 6, 16, 16)
    mean, var = net.split(out)
    assert mean.min() >= 0 and mean.max() <= 10.0 and var.min() >= 1e-3
    iso = UnCRtainTS(4, 3, 'iso', **TINY, positional_encoding=False).eval()
    mean, var = iso.split(iso(torch.rand(1, 3, 4, 40, 40)))  # > 32 px: bilinear masks
    assert var.shape == mean.shape == (1, 3, 40, 40) and torch.equal(var[:, 0], var[:, 2])
    mono = UnCRtainTS(15, 13, None, mono_temporal=True, n_head=1, width=8).eval()
    assert mono(torch.rand(2, 15, 12, 12)).shape == (2, 13, 12, 12)
    assert mono.split(mono(torch.rand(1, 1, 15, 8, 8)))[1] is None
    assert not hasattr(mono, 'attention')
    with pytest.raises(ValueError, match='mono-temporal'):
        mono(torch.rand(1, 2, 15, 8, 8))
    with pytest.raises(ValueError, match='covariance'):
        UnCRtainTS(4, 3, 'full')


def test_dates_and_padding():
    torch.manual_seed(0)
    net = UnCRtainTS(4, 3, 'diag', **TINY, positional_encoding=True).eval()
    x = torch.rand(2, 3, 4, 16, 16)
    with pytest.raises(ValueError, match='positional encoding'):
        net(x)
    a = net(x, positions=torch.tensor([[0., 10., 20.], [0., 10., 20.]]))
    b = net(x, positions=torch.tensor([[0., 50., 300.], [0., 10., 20.]]))
    assert not torch.allclose(a[0], b[0]) and torch.allclose(a[1], b[1])
    # an all-zero (padded) date gets no attention: the attention masks are zero there
    x[0, 1] = 0
    low = torch.nn.functional.adaptive_max_pool2d(
        net.stem(x.flatten(0, 1)), 32).view(2, 3, 8, 32, 32)
    pad = (x == 0).flatten(2).all(-1)
    attn = net.attention(low, pad, torch.zeros(2, 3))
    assert attn[:, 0, 1].max() < 1e-30 and torch.allclose(attn.sum(2), torch.ones(()))


def test_sinusoid_positions_follow_the_formula():
    pos = torch.tensor([[0., 3., 17.]])
    enc = sinusoid_positions(pos, 6, period=1000.0)
    for t, p in enumerate(pos[0].tolist()):
        for i in range(6):
            angle = p / 1000.0 ** (2 * (i // 2) / 6)
            want = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert enc[0, t, i].item() == pytest.approx(want, abs=1e-6)


# ---------------------------------------------------------------------------------------
# converter
# ---------------------------------------------------------------------------------------
def load_converter():
    path = osp.join(REPO, 'tools', 'model_converters', 'convert_uncrtaints.py')
    spec = importlib.util.spec_from_file_location('convert_uncrtaints_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# official MBConv (PreNorm over a Sequential) -> crbench, written out by hand
MBCONV = [('conv.norm', 'pre_norm'), ('conv.fn.0', 'expand'), ('conv.fn.1', 'expand_norm'),
          ('conv.fn.3', 'depthwise'), ('conv.fn.4', 'depthwise_norm'),
          ('conv.fn.6.fc.0', 'se.reduce'), ('conv.fn.6.fc.2', 'se.expand'),
          ('conv.fn.7', 'project'), ('conv.fn.8', 'project_norm')]


def official_name(key: str) -> str:
    """crbench key -> the official UNCRTAINTS key."""
    fixed = {'stem.0': 'in_conv.conv.conv.0', 'stem.1': 'in_conv.conv.conv.1',
             'head': 'out_conv.conv.conv.0', 'attention.in_norm': 'temporal_encoder.in_norm',
             'attention.in_proj': 'temporal_encoder.inconv',
             'attention.key_proj': 'temporal_encoder.attention_heads.fc1_k'}
    if key == 'attention.queries':
        return 'temporal_encoder.attention_heads.Q'
    module, leaf = key.rsplit('.', 1)
    if module in fixed:
        return f'{fixed[module]}.{leaf}'
    part, index, rest = module.split('.', 2)
    official_part = {'encoder': 'in_block', 'decoder': 'out_block'}[part]
    (official_rest, ) = [o for o, c in MBCONV if c == rest]
    return f'{official_part}.{index}.{official_rest}.{leaf}'


def official_checkpoint(net):
    sd = {}
    for key, value in net.state_dict().items():
        if key == 'attention.in_proj.weight':
            value = value[..., None]  # official Conv1d
        sd[official_name(key)] = value.clone()
    return {'epoch': 3, 'state_dict': {f'netG.{k}': v for k, v in sd.items()},
            'state_dict_G': sd, 'optimizer_G': {}, 'scheduler_G': {}}


@pytest.mark.parametrize('covariance,mono', [('diag', False), (None, True)])
def test_converter_round_trip(tmp_path, covariance, mono):
    conv = load_converter()
    torch.manual_seed(1)
    kw = dict(mono_temporal=True, n_head=1) if mono else dict(n_head=4, d_model=8, d_k=2)
    net = UnCRtainTS(15, 13, covariance, width=8, decoder_blocks=2, scale_by=10.0,
                     positional_encoding=False, **kw)
    for m in net.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    path = str(tmp_path / 'official.pth.tar')
    torch.save(official_checkpoint(net), path)
    out = str(tmp_path / 'crbench.pth')
    cov_arg = covariance or 'none'
    assert conv.main([path, out, '--covariance', cov_arg, '--scale-by', '10']) == 0
    ckpt = torch.load(out, map_location='cpu', weights_only=False)
    cfg = ckpt['meta']['generator']
    assert cfg['mono_temporal'] is mono and cfg['covariance'] == covariance
    assert cfg['decoder_blocks'] == 2 and cfg['width'] == 8
    # crbench.engine.checkpoint reads these: [0, 1] range, bands fed as stored
    conventions = ckpt['meta']['input_conventions']
    assert conventions['value_range'] == [0.0, 1.0] and conventions['band_order'].startswith('RGB')
    rebuilt = MODELS.build(cfg)
    rebuilt.load_state_dict({k[len('generator.'):]: v for k, v in ckpt['state_dict'].items()},
                            strict=True)
    for key, value in net.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key
    x = torch.rand(1, 1 if mono else 3, 15, 8, 8)
    assert torch.equal(net.eval()(x), rebuilt.eval()(x))
    # the 'state_dict' (netG.) layout converts the same
    sd_only = {'state_dict': official_checkpoint(net)['state_dict']}
    torch.save(sd_only, str(tmp_path / 'sd_only.pth'))
    again = conv.convert(str(tmp_path / 'sd_only.pth'), covariance=covariance, scale_by=10.0)
    assert all(torch.equal(again['state_dict'][k], v) for k, v in ckpt['state_dict'].items())


def test_converter_is_strict(tmp_path, capsys):
    conv = load_converter()
    net = UnCRtainTS(15, 13, 'diag', width=8, n_head=4, d_model=8, d_k=2,
                     positional_encoding=False)
    good = official_checkpoint(net)['state_dict_G']

    def run(sd, *args):
        path = str(tmp_path / 'bad.pth')
        torch.save({'state_dict_G': sd}, path)
        return conv.main([path, str(tmp_path / 'out.pth'), *args])

    extra = dict(good, **{'temporal_encoder.include_v.weight': torch.zeros(1)})
    assert run(extra) == 2 and 'include_v' in capsys.readouterr().err
    missing = {k: v for k, v in good.items() if 'fn.6.fc.2' not in k}
    assert run(missing) == 2 and 'se.expand' in capsys.readouterr().err
    assert run(good, '--covariance', 'none', '--bands', '13') == 2  # 26 rows: not 13 bands
    assert 'covariance' in capsys.readouterr().err
    assert conv.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'o.pth')]) == 2
    assert 'not found' in capsys.readouterr().err
    assert not osp.exists(str(tmp_path / 'out.pth'))
