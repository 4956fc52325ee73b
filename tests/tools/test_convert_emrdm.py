"""tools/model_converters/convert_emrdm.py on a checkpoint laid out as EMRDM's Lightning one.

The official naming (verified in Ly403/EMRDM's sgm code, see the converter's docstring):
raw network ``state_dict['model.diffusion_model.<key>']`` and the LitEma copy
``state_dict['model_ema.' + ('diffusion_model.' + <param name>).replace('.', '')]`` plus
``model_ema.decay`` / ``model_ema.num_updates``.
"""
import importlib.util
import json
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config

from crbench.datasets.synthetic import write_cuhk
from crbench.engine import load_checkpoint_file
from crbench.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_NETWORK = """
model = dict(network=dict(
    widths=[16, 32], depths=[1, 1], d_ffs=[32, 64],
    self_attns=[dict(type='neighborhood', d_head=8, kernel_size=3),
                dict(type='global', d_head=8)],
    dropout_rate=[0.0, 0.0], mapping_depth=1, mapping_width=32, mapping_d_ff=64,
    mapping_dropout_rate=0.0),
    sampler=dict(_delete_=True, type='EulerSampler', num_steps=2))
"""


def load_tool(name, path):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def converter():
    return load_tool('crbench_convert_emrdm', 'tools/model_converters/convert_emrdm.py')


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / 'emrdm_tiny_cuhkcr2.py'
    path.write_text(f"_base_ = [{osp.join(REPO, 'configs/emrdm/emrdm_cuhkcr2.py')!r}]\n"
                    + TINY_NETWORK)
    return str(path)


def build(config):
    return MODELS.build(Config.fromfile(config).model)


def randomise(model, seed, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():  # also the zero-initialised projections
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model


class FakeHParams:
    """Stands for the objects a Lightning checkpoint may pickle besides tensors."""

    def __init__(self):
        self.lr = 1e-4


class Trap:
    """Would run ``func(path)`` if its pickle were ever executed."""

    def __init__(self, func, path):
        self.func, self.path = func, path

    def __reduce__(self):
        return self.func, (self.path, )


def official_checkpoint(raw, ema, extra=None):
    """A Lightning checkpoint with EMRDM's key scheme from two crbench networks."""
    sd = {'model.diffusion_model.' + k: v.clone() for k, v in raw.network.state_dict().items()}
    for name, p in ema.network.named_parameters():
        sd['model_ema.' + ('diffusion_model.' + name).replace('.', '')] = p.detach().clone()
    sd['model_ema.decay'] = torch.tensor(0.9999)
    sd['model_ema.num_updates'] = torch.tensor(1234, dtype=torch.int)
    ckpt = {'epoch': 3, 'global_step': 1234, 'pytorch-lightning_version': '2.1.2',
            'state_dict': sd, 'loops': {'fit_loop': {'epoch_progress': {'current': 3}}},
            'callbacks': {'ModelCheckpoint': {'best_model_score': torch.tensor(0.1),
                                              'best_model_path': 'epoch=3.ckpt'}},
            'optimizer_states': [{'state': {}, 'param_groups': [{'lr': 1e-4, 'params': []}]}],
            'lr_schedulers': []}
    ckpt.update(extra or {})
    return ckpt


@pytest.fixture
def models(tiny_config):
    torch.manual_seed(0)
    raw = randomise(build(tiny_config), 1)
    ema = build(tiny_config)
    ema.load_state_dict(raw.state_dict())
    randomise(ema, 2, scale=0.05)  # the EMA copy differs from the raw weights
    return raw, ema


def outputs(model):
    g = torch.Generator().manual_seed(5)
    cloudy = torch.rand(2, 4, 8, 8, generator=g) * 2 - 1
    x = torch.randn(2, 4, 8, 8, generator=g)
    sigma = torch.tensor([0.3, 4.0])
    with torch.no_grad():
        return model.denoise(x, sigma, model.split_inputs(dict(cloudy=cloudy))[1])


@pytest.mark.parametrize('use_ema', [False, True])
def test_converted_weights_load_strictly_and_give_equal_outputs(converter, tiny_config,
                                                                models, tmp_path, capsys,
                                                                use_ema):
    raw, ema = models
    src = tmp_path / 'official.ckpt'
    torch.save(official_checkpoint(raw, ema), src)
    out = tmp_path / 'converted.pth'
    argv = [tiny_config, str(src), str(out)] + (['--ema'] if use_ema else [])
    assert converter.main(argv) == 0
    printed = capsys.readouterr().out
    assert 'missing (0)' in printed and 'unexpected (0)' in printed
    assert 'LitEma bookkeeping' in printed
    assert ('raw weight; --ema selected' if use_ema else 'pass --ema') in printed

    converted = load_checkpoint_file(str(out))  # weights_only: plain tensors and metadata
    fresh = build(tiny_config)
    assert set(converted['state_dict']) == set(fresh.state_dict())
    fresh.load_state_dict(converted['state_dict'], strict=True)
    want = ema if use_ema else raw
    for key, value in want.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert torch.equal(outputs(fresh), outputs(want))
    assert not torch.equal(outputs(fresh), outputs(raw if use_ema else ema))
    meta = converted['meta']
    assert meta['weights'] == ('ema' if use_ema else 'raw') and meta['global_step'] == 1234
    assert meta['official_repo'] == 'Ly403/EMRDM'
    assert len(meta['sources']['checkpoint']['sha256']) == 64
    assert meta['source_format'] == ('emrdm_lightning_ema' if use_ema else 'emrdm_lightning_raw')
    assert meta['input_conventions']['value_range'] == [-1.0, 1.0]
    assert meta.get('ema_num_updates') == (1234 if use_ema else None)


def test_missing_unexpected_and_shape_errors_are_reported(converter, tiny_config, models,
                                                          tmp_path, capsys):
    raw, ema = models
    ckpt = official_checkpoint(raw, ema)
    lost = 'model_ema.diffusion_modelpatch_inprojweight'
    assert lost in ckpt['state_dict']
    del ckpt['state_dict'][lost]
    ckpt['state_dict']['conditioner.embedders.0.proj.weight'] = torch.zeros(2, 2)
    src = tmp_path / 'broken.ckpt'
    torch.save(ckpt, src)
    out = tmp_path / 'never.pth'
    assert converter.main([tiny_config, str(src), str(out), '--ema']) == 2
    captured = capsys.readouterr()
    assert 'missing (1)' in captured.out and lost in captured.out
    assert 'network.patch_in.proj.weight' in captured.out
    assert 'unexpected (1)' in captured.out and 'conditioner.embedders.0.proj.weight' in \
        captured.out
    assert 'does not load strictly' in captured.err and not out.exists()

    # the right keys for another network: shapes named, nothing written
    torch.save(official_checkpoint(raw, ema), src)
    assert converter.main([tiny_config, str(src), str(out), '--cfg-options',
                           'model.network.mapping_width=16']) == 2
    captured = capsys.readouterr()
    assert 'network.time_in_proj.weight: checkpoint (32, 32), crbench (16, 16)' in captured.out
    assert 'shape mismatches' in captured.err and not out.exists()


def test_ema_requested_without_ema_weights(converter, tiny_config, models, tmp_path, capsys):
    raw, ema = models
    ckpt = official_checkpoint(raw, ema)
    ckpt['state_dict'] = {k: v for k, v in ckpt['state_dict'].items()
                          if not k.startswith('model_ema.')}
    src = tmp_path / 'no_ema.ckpt'
    torch.save(ckpt, src)
    assert converter.main([tiny_config, str(src), str(tmp_path / 'x.pth'), '--ema']) == 2
    assert 'no EMA weights' in capsys.readouterr().err
    assert converter.main([tiny_config, str(src), str(tmp_path / 'x.pth')]) == 0


def test_pickled_objects_are_refused_or_stubbed_never_run(converter, tiny_config, models,
                                                          tmp_path, capsys):
    raw, ema = models
    victim = tmp_path / 'victim'
    victim.mkdir()
    src = tmp_path / 'lightning.ckpt'
    torch.save(official_checkpoint(raw, ema, extra={
        'hyper_parameters': FakeHParams(), 'trap': Trap(shutil.rmtree, str(victim))}), src)
    out = tmp_path / 'converted.pth'
    assert converter.main([tiny_config, str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert 'weights_only=True' in err and '--stub-objects' in err
    assert 'FakeHParams' in err and 'shutil.rmtree' in err and "['state_dict']" in err
    assert not out.exists() and victim.is_dir()

    assert converter.main([tiny_config, str(src), str(out), '--stub-objects']) == 0
    assert 'inert placeholders' in capsys.readouterr().out
    assert victim.is_dir()  # the reduce call hit a placeholder, rmtree never ran
    fresh = build(tiny_config)
    fresh.load_state_dict(load_checkpoint_file(str(out))['state_dict'], strict=True)
    assert torch.equal(outputs(fresh), outputs(raw))

    # globals of os/sys are refused even with placeholders
    trap = tmp_path / 'pwned'
    torch.save(official_checkpoint(raw, ema, extra={'trap': Trap(os.makedirs, str(trap))}), src)
    assert converter.main([tiny_config, str(src), str(tmp_path / 'y.pth'), '--stub-objects']) == 2
    assert 'os.makedirs' in capsys.readouterr().err and not trap.exists()


def test_converted_checkpoint_runs_through_tools_test(converter, tiny_config, models,
                                                      tmp_path):
    raw, ema = models
    src = tmp_path / 'official.ckpt'
    torch.save(official_checkpoint(raw, ema), src)
    out = tmp_path / 'converted.pth'
    assert converter.main([tiny_config, str(src), str(out), '--ema']) == 0
    root = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 1, 'test': 1}, size=16)
    loader = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    results = tmp_path / 'results'
    test_tool = load_tool('crbench_tool_test_convert', 'tools/test.py')
    assert test_tool.main([tiny_config, str(out), '--data-root', osp.join(root, 'CUHK-CR2'),
                           '--work-dir', str(tmp_path / 'work'), '--results-dir',
                           str(results), '--cfg-options', *loader]) == 0
    (name, ) = [n for n in os.listdir(results) if n.endswith('.json')]
    record = json.loads((results / name).read_text())
    assert record['n_images'] == 1 and record['dataset'] == 'CUHK-CR2'
    assert record['metrics']['PSNR'] > 0
