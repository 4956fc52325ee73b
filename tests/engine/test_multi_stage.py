"""Multi-stage training (crbench/engine/multi_stage.py) and the DE configs (configs/de/).

The end-to-end tests run the real configs/de/de_memorynet_cuhkcr2.py, shrunk
(tiny CNP/WA/MemoryNet, 16x16 images, 2 iterations per stage, 2 DDIM steps),
through tools/train.py's ``main`` on a synthetic CUHK-CR2.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import pickle
import re
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from crbench.engine import load_checkpoint_file, save_trusted_checkpoint, train_stages
from crbench.engine.multi_stage import (MARKER, StageError, check_start_keys, latest_checkpoint,
                                        parse_stages, select_stages, stage_config, start_state)
from crbench.registry import HOOKS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAIN_CONFIG = osp.join(REPO, 'configs', 'de', 'de_memorynet_cuhkcr2.py')
DE_CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', 'de', '**', '*.py'),
                                         recursive=True) if '_base_' not in p)
MAIN_DE_CONFIGS = [p for p in DE_CONFIGS if osp.dirname(p).endswith(osp.join('configs', 'de'))]
STAGES = ('stage1_diffusion', 'stage2_wa', 'stage3_joint')
TINY_NET = dict(model_channels=16, channel_mult=(1, 2), norm_groups=8,
                attention_downsample=(2, ), num_heads=2)
TINY_REF = dict(type='MemoryNet', in_channels=4, n_feat=8, scale_unetfeats=4,
                scale_orsnetfeats=4, num_cab=1)


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(f'crbench_tool_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SimulatedKill(Exception):
    """Stands for a killed training process."""


@HOOKS.register_module(name='MultiStageTestHook', force=True)
class MultiStageTestHook(Hook):
    """Records ``<stage> <iteration>`` of every training iteration; raises
    :class:`SimulatedKill` after iteration ``kill_at`` of ``kill_stage`` (once
    its checkpoint is saved) while ``kill_file`` exists, deleting it."""

    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, record, kill_file=None, kill_stage=None, kill_at=None):
        self.record, self.kill_file = record, kill_file
        self.kill_stage, self.kill_at = kill_stage, kill_at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        stage, it = osp.basename(runner.work_dir), runner.iter + 1
        with open(self.record, 'a') as f:
            f.write(f'{stage} {it}\n')
        if (self.kill_file and osp.exists(self.kill_file) and stage == self.kill_stage
                and it == self.kill_at):
            os.remove(self.kill_file)
            raise SimulatedKill(f'{stage} killed after iteration {it}')


def records(path):
    if not osp.exists(path):
        return []
    with open(path) as f:
        return [(s, int(i)) for s, i in (line.split() for line in f if line.strip())]


def make_config(folder, data_root, ref_ckpt, name='de_tiny', **kill):
    """configs/de/de_memorynet_cuhkcr2.py with tiny networks, 32 -> 16 (8 in stage 1)
    pixel images, 2 iterations per stage (checkpoint every iteration, validation
    at the end of each stage), written to ``<folder>/<name>.py``."""
    cfg = Config.fromfile(MAIN_CONFIG)
    cfg.model.cnp.update(TINY_NET)
    cfg.model.weight_net.update(TINY_NET)
    cfg.model.reference = dict(TINY_REF)
    cfg.model.reference_checkpoint = ref_ckpt
    cfg.model.sampler = dict(type='DDIMSampler', num_steps=2, eta=0.0)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].update(num_workers=0, persistent_workers=False)
        cfg[key].dataset.data_root = data_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=5)
    record = osp.join(folder, f'{name}.records')
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='MultiStageTestHook', record=record,
                                                      **kill)]
    for stage in cfg.stages:
        options = stage.cfg_options
        options.train_dataloader.batch_size = 2
        options.train_cfg.update(max_iters=2, val_interval=2)
    for transform in cfg.train_pipeline_64:  # the pipeline stage 1 names
        if transform['type'] == 'MatlabResize' and transform.get('size'):
            transform['size'] = (8, 8)  # DE: whole image to 64 in stage 1
    path = osp.join(folder, f'{name}.py')
    cfg.dump(path)
    return path, record


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    from crbench.datasets.synthetic import write_cuhk
    from crbench.models.reference.memorynet import MemoryNet
    root = str(tmp_path_factory.mktemp('de_multi_stage'))
    top = write_cuhk(root, 'CUHK-CR2', {'train': 4, 'test': 2}, size=32)
    torch.manual_seed(0)
    net = MemoryNet(**{k: v for k, v in TINY_REF.items() if k != 'type'})
    ref_ckpt = osp.join(root, 'memorynet_tiny.pth')
    # the layout of a crbench restorer checkpoint: the network under 'generator.'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in net.state_dict().items()}},
               ref_ckpt)
    return dict(root=root, data_root=osp.join(top, 'CUHK-CR2'), ref_ckpt=ref_ckpt,
                train=_load_tool('train').main)


@pytest.fixture(scope='module')
def chain(env):
    """All three stages, once, in <root>/chain."""
    config, record = make_config(env['root'], env['data_root'], env['ref_ckpt'])
    work = osp.join(env['root'], 'chain')
    rc = env['train']([config, '--work-dir', work])
    return dict(env, rc=rc, config=config, record=record, work=work,
                runs=records(record))


def ckpt(work, stage):
    return load_checkpoint_file(osp.join(work, stage, 'iter_2.pth'), map_location='cpu')


def raw(checkpoint):
    """The optimised weights (EMAHook stores the EMA ones under 'state_dict')."""
    return start_state(checkpoint, 'raw')


def test_three_stages_end_to_end(chain):
    assert chain['rc'] == 0
    assert chain['runs'] == [(s, i) for s in STAGES for i in (1, 2)]
    for index, stage in enumerate(STAGES, 1):
        with open(osp.join(chain['work'], stage, MARKER)) as f:
            marker = json.load(f)
        assert marker['stage'] == stage and marker['index'] == index
        assert marker['checkpoint'] == 'iter_2.pth' and marker['iter'] == 2
    s1, s2, s3 = (ckpt(chain['work'], s) for s in STAGES)
    assert s2['state_dict'].keys() == s3['state_dict'].keys()
    assert not any(k.startswith('weight_net.') for k in s1['state_dict'])  # stage 1: no WA
    assert any(k.startswith('weight_net.') for k in s2['state_dict'])
    assert not any('reference.' in k for c in (s1, s2, s3) for k in c['state_dict'])
    # stage 2 locks the CNP: its weights (raw and EMA) are stage 1's final raw weights
    cnp = [k for k in raw(s1) if k.startswith('cnp.')]
    assert cnp
    for k in cnp:
        assert torch.equal(raw(s2)[k], raw(s1)[k]), k
        assert torch.equal(s2['state_dict'][k], raw(s1)[k]), k
    # the WA trained in stage 2 (its zero-initialised output conv moved) ...
    assert raw(s2)['weight_net.out.2.weight'].abs().max() > 0
    # ... and stage 3 trains both, starting from stage 2's raw weights
    assert any(not torch.equal(raw(s3)[k], raw(s2)[k]) for k in cnp)
    assert not torch.equal(raw(s3)['weight_net.out.2.weight'], raw(s2)['weight_net.out.2.weight'])


def test_each_stage_logs_into_its_own_folder(chain):
    for stage in STAGES:
        runs = glob.glob(osp.join(chain['work'], stage, '*', 'vis_data', 'scalars.json'))
        assert len(runs) == 1, stage
        with open(runs[0]) as f:
            steps = [json.loads(line).get('step') for line in f if '"loss"' in line]
        assert steps == [1, 2], stage


def test_stage_two_logs_the_new_keys(chain):
    """One short line a user reads: the count and a few names, not every weight name."""
    logs = glob.glob(osp.join(chain['work'], 'stage2_wa', '*', '*.log'))
    assert len(logs) == 1
    with open(logs[0]) as f:
        text = f.read()
    (line, ) = [ln for ln in text.splitlines() if 'non-strictly' in ln]
    new = sorted(k for k in ckpt(chain['work'], 'stage2_wa')['state_dict']
                 if k.startswith('weight_net.'))
    assert len(new) > 20
    assert f"{len(new)} weights under ['weight_net.'] are new" in line
    assert f'{new[0]}, {new[1]}, {new[2]} and {len(new) - 3} more' in line
    assert new[-1] not in line and len(line) < 400
    for stage in ('stage1_diffusion', 'stage3_joint'):  # nothing new there
        with open(glob.glob(osp.join(chain['work'], stage, '*', '*.log'))[0]) as f:
            assert 'non-strictly' not in f.read()


def test_final_model_tests_with_the_top_level_config(chain, tmp_path):
    """The config's top level is the stage-3 model: tools/test.py takes its checkpoint."""
    rc = _load_tool('test').main([chain['config'], osp.join(chain['work'], 'stage3_joint',
                                                            'iter_2.pth'),
                                  '--work-dir', str(tmp_path), '--no-results'])
    assert rc == 0


def test_rerun_skips_complete_stages(chain):
    mtimes = {s: os.path.getmtime(osp.join(chain['work'], s, 'iter_2.pth')) for s in STAGES}
    logs = {s: len(os.listdir(osp.join(chain['work'], s))) for s in STAGES}
    open(chain['record'], 'w').close()
    assert chain['train']([chain['config'], '--work-dir', chain['work']]) == 0
    assert records(chain['record']) == []  # not one training iteration
    for s in STAGES:
        assert os.path.getmtime(osp.join(chain['work'], s, 'iter_2.pth')) == mtimes[s]
        assert len(os.listdir(osp.join(chain['work'], s))) == logs[s]  # no new run folder


def test_killed_stage_resumes(chain, tmp_path):
    kill_file = str(tmp_path / 'kill')
    open(kill_file, 'w').close()
    config, record = make_config(str(tmp_path), chain['data_root'], chain['ref_ckpt'],
                                 name='de_kill', kill_file=kill_file, kill_stage='stage2_wa',
                                 kill_at=2)
    work = str(tmp_path / 'work')
    shutil.copytree(osp.join(chain['work'], 'stage1_diffusion'),
                    osp.join(work, 'stage1_diffusion'))  # stage 1 is complete already
    args = [config, '--work-dir', work, '--cfg-options',
            'stages.1.cfg_options.train_cfg.max_iters=3']
    with pytest.raises(SimulatedKill):
        chain['train'](args)
    stage2 = osp.join(work, 'stage2_wa')
    assert osp.isfile(osp.join(stage2, 'iter_2.pth')) and not osp.exists(osp.join(stage2, MARKER))
    assert not osp.exists(osp.join(work, 'stage3_joint'))
    assert chain['train'](args) == 0
    # stage 1 skipped, stage 2 resumed after iteration 2, stage 3 ran from stage 2's end
    assert records(record) == [('stage2_wa', 1), ('stage2_wa', 2), ('stage2_wa', 3),
                               ('stage3_joint', 1), ('stage3_joint', 2)]
    with open(osp.join(stage2, MARKER)) as f:
        assert json.load(f)['checkpoint'] == 'iter_3.pth'
    resumed = load_checkpoint_file(osp.join(stage2, 'iter_3.pth'))
    assert resumed['meta']['iter'] == 3 and 'ema_state_dict' in resumed


def test_only_stage_and_lengthened_schedule(chain, tmp_path, capsys):
    work = str(tmp_path / 'work')
    base = [chain['config'], '--work-dir', work, '--cfg-options']
    open(chain['record'], 'w').close()
    assert chain['train'](base + ['only_stage=2']) == 2  # tools/train.py: clean exit, no traceback
    assert re.search('stage1_diffusion.*has not finished', capsys.readouterr().err)
    # stage 1 alone, cut short (as if stopped), then lengthened: it continues
    assert chain['train'](base + ['only_stage=stage1_diffusion',
                                  'stages.0.cfg_options.train_cfg.max_iters=1']) == 0
    with open(osp.join(work, 'stage1_diffusion', MARKER)) as f:
        assert json.load(f)['iter'] == 1
    assert chain['train'](base + ['only_stage=1']) == 0
    with open(osp.join(work, 'stage1_diffusion', MARKER)) as f:
        assert json.load(f)['iter'] == 2
    assert chain['train'](base + ['only_stage=2']) == 0
    assert records(chain['record']) == [('stage1_diffusion', 1), ('stage1_diffusion', 2),
                                        ('stage2_wa', 1), ('stage2_wa', 2)]
    assert sorted(os.listdir(work)) == ['stage1_diffusion', 'stage2_wa']


def test_resume_with_a_path_is_refused(chain, tmp_path, capsys):
    assert chain['train']([chain['config'], '--work-dir', str(tmp_path), '--resume',
                           'x.pth']) == 2
    assert 'resumes each stage' in capsys.readouterr().err


# ---- unit tests of the driver ----------------------------------------------------
def _cfg(stages, **extra):
    return Config(dict(stages=stages, work_dir='/tmp/unused', model=dict(stage=3, fusion='wa'),
                       train_cfg=dict(max_iters=5), **extra))


@pytest.mark.parametrize('stages, match', [
    ([], 'non-empty list'),
    ([dict(cfg_options={})], 'folder-safe'),
    ([dict(name='a/b')], 'folder-safe'),
    ([dict(name='a'), dict(name='a')], 'used twice'),
    ([dict(name='a', load_from='previous')], 'no previous stage'),
    ([dict(name='a', weights='raw')], 'unknown keys'),
    ([dict(name='a', start_weights='best')], 'start_weights'),
    ([dict(name='a', cfg_options=[1])], 'cfg_options must be a dict'),
    ([dict(name='a', train_pipeline='no_such_key')], 'top-level config key'),
    ([dict(name='a', train_pipeline=['x'])], 'top-level config key'),
])
def test_parse_stages_errors(stages, match):
    with pytest.raises(StageError, match=match):
        parse_stages(_cfg(stages))


def test_parse_and_select_stages():
    stages = parse_stages(_cfg([dict(name='a'), dict(name='b', new_keys='weight_net.')],
                               load_from='init.pth'))
    assert [s['load_from'] for s in stages] == ['init.pth', 'previous']
    assert stages[1]['new_keys'] == ('weight_net.', ) and stages[0]['start_weights'] == 'raw'
    assert select_stages(stages, None) == stages
    assert select_stages(stages, 2) == [stages[1]] == select_stages(stages, '2')
    assert select_stages(stages, 'a') == [stages[0]]
    for bad in (0, 3, 'c', True):
        with pytest.raises(StageError, match='only_stage'):
            select_stages(stages, bad)


def test_stage_config_merges_and_checks_keys():
    stage = parse_stages(_cfg([dict(name='s1', cfg_options={'model': dict(stage=1),
                                                            'train_cfg.max_iters': 2})]))[0]
    top = _cfg([])
    cfg = stage_config(top, stage)
    assert cfg.model == dict(stage=1, fusion='wa') and cfg.train_cfg.max_iters == 2
    assert top.model.stage == 3 and top.train_cfg.max_iters == 5  # the top level is untouched
    assert cfg.work_dir == osp.join('/tmp/unused', 's1') and 'stages' not in cfg
    typo = parse_stages(_cfg([dict(name='s1', cfg_options=dict(model=dict(fuson='none')))]))[0]
    with pytest.raises(StageError, match="s1.*'fuson'"):
        stage_config(_cfg([]), typo)


def test_stage_names_its_training_pipeline_by_key():
    pipelines = dict(pipe_64=[dict(type='MatlabResize', size=(64, 64))],
                     pipe=[dict(type='MatlabResize', scale=0.5)])
    top = _cfg([dict(name='s1', train_pipeline='pipe_64',
                     cfg_options=dict(train_dataloader=dict(batch_size=64))),
                dict(name='s2', train_pipeline='pipe')],
               train_dataloader=dict(batch_size=16, dataset=dict(pipeline=[])), **pipelines)
    first, second = (stage_config(top, s) for s in parse_stages(top))
    assert first.train_dataloader == dict(batch_size=64,
                                          dataset=dict(pipeline=pipelines['pipe_64']))
    assert second.train_dataloader == dict(batch_size=16, dataset=dict(pipeline=pipelines['pipe']))
    first.train_dataloader.dataset.pipeline[0]['size'] = (8, 8)  # a copy: the top level keeps it
    assert top.pipe_64[0]['size'] == (64, 64) and top.train_dataloader.dataset.pipeline == []
    both = parse_stages(_cfg([dict(name='s', train_pipeline='pipe', cfg_options={
        'train_dataloader.dataset.pipeline': []})], **pipelines))[0]
    with pytest.raises(StageError, match='not both'):
        stage_config(top, both)


def test_check_start_keys(tmp_path):
    model = torch.nn.ModuleDict(dict(cnp=torch.nn.Linear(2, 2), weight_net=torch.nn.Linear(2, 1)))
    path = str(tmp_path / 'c.pth')
    cnp_only = {f'cnp.{k}': v for k, v in model.cnp.state_dict().items()}
    torch.save({'state_dict': cnp_only}, path)
    stage = dict(name='s2', new_keys=('weight_net.', ), dropped_keys=(), start_weights='raw')
    assert check_start_keys(model, path, stage) == ['weight_net.bias', 'weight_net.weight']
    with pytest.raises(StageError, match='missing from the checkpoint'):
        check_start_keys(model, path, dict(stage, new_keys=()))
    torch.save({'state_dict': dict(cnp_only, **{'old.w': torch.ones(1)})}, path)
    with pytest.raises(StageError, match='do not exist in the model'):
        check_start_keys(model, path, stage)
    assert check_start_keys(model, path, dict(stage, dropped_keys=('old.', ))) == [
        'weight_net.bias', 'weight_net.weight']
    torch.save({'state_dict': dict(cnp_only, **{'cnp.weight': torch.ones(3, 2)})}, path)
    with pytest.raises(StageError, match='shapes differ'):
        check_start_keys(model, path, stage)
    # 'raw' reads the optimised weights that EMAHook keeps under ema_state_dict
    ema = {'steps': torch.tensor(3), **{f'module.{k}': v + 1 for k, v in cnp_only.items()}}
    torch.save({'state_dict': cnp_only, 'ema_state_dict': ema}, path)
    loaded = torch.load(path, weights_only=True)
    torch.testing.assert_close(start_state(loaded, 'raw')['cnp.weight'], cnp_only['cnp.weight'] + 1)
    torch.testing.assert_close(start_state(loaded, 'ema')['cnp.weight'], cnp_only['cnp.weight'])


def test_latest_checkpoint_prefers_the_stage_folder(tmp_path):
    assert latest_checkpoint(str(tmp_path)) is None
    (tmp_path / 'iter_4.pth').write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/stage/iter_4.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/stage/iter_9.pth')
    assert latest_checkpoint(str(tmp_path)) is None


def test_train_stages_needs_a_work_dir():
    cfg = _cfg([dict(name='a')])
    cfg.work_dir = None
    with pytest.raises(StageError, match='work_dir'):
        train_stages(cfg)


# ---- the DE configs ----------------------------------------------------------------
def test_de_config_inventory():
    names = {osp.relpath(p, osp.join(REPO, 'configs', 'de')) for p in DE_CONFIGS}
    for ref in ('memorynet', 'msda'):
        for ds in ('cuhkcr1', 'cuhkcr2', 'rice1', 'rice2', 'sen12mscr', 'sen2mtc_new'):
            assert f'de_{ref}_{ds}.py' in names
    assert sum(n.startswith('ablations/') for n in names) == 10


@pytest.mark.parametrize('path', DE_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_de_config_builds(path):
    cfg = Config.fromfile(path)
    cfg.work_dir = '/tmp/unused'
    assert cfg.default_scope == 'crbench' and cfg.model.type == 'DiffusionEnhancement'
    assert cfg.model_name.startswith(('de_memorynet', 'de_msda'))
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-5
    ema = [h for h in cfg.custom_hooks if h['type'] == 'EMAHook']
    assert len(ema) == 1 and ema[0]['momentum'] == 1e-4  # decay 0.9999
    assert any(h['type'] == 'NonFiniteLossHook' for h in cfg.custom_hooks)
    assert cfg.only_stage is None
    stages = parse_stages(cfg)
    built = [stage_config(cfg, s) for s in stages]
    for stage, scfg in zip(stages, built):
        model, loader = scfg.model, scfg.train_dataloader
        resize = [t for t in loader.dataset.pipeline if t['type'] == 'MatlabResize']
        if stage['name'] == 'stage1_diffusion':  # DE's coarse stage: whole image to 64, batch 64
            assert (model.stage, model.fusion, loader.batch_size) == (1, 'none', 64)
            assert [t['size'] for t in resize] == [(64, 64)]
        else:                                    # 256x256, batch 16
            assert loader.batch_size == 16
            assert all(t.get('scale') == 0.5 for t in resize)
        flips = ('PairedRandomFlip', 'RandomFlipRotate90')  # DE's flip; Sen2_MTC_New's
        assert any(t['type'] in flips for t in loader.dataset.pipeline)
        if model.stage == 2:
            assert stage['new_keys'] == ('weight_net.', ) and model.fusion == 'wa'
    # the top level is the final model: the last stage's model, what tools/test.py builds
    assert built[-1].model == cfg.model
    assert built[-1].train_cfg.max_iters == cfg.train_cfg.max_iters
    # the stage-1 model needs no reference checkpoint: build it full size on the meta device
    first = built[0].model
    if first.fusion == 'none':
        with torch.device('meta'):
            model = MODELS.build(first)
        bands = cfg.model.cnp.num_bands
        expected = {4: 32_144_740, 3: 36_800_326 - 4_658_179}.get(bands)  # docs/models.md §2.1
        n = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if expected:
            assert n == expected
    if cfg.model.fusion != 'none':
        with torch.device('meta'):
            MODELS.build(cfg.model.reference)
        ref_config = cfg.model.reference_train_config
        family = {'MemoryNet': 'memorynet', 'MSDACRGenerator': 'msda_cr'}[cfg.model.reference.type]
        assert ref_config.startswith(f'configs/{family}/{family}_') and ref_config.endswith('.py')
        stem = osp.splitext(osp.basename(ref_config))[0]
        assert cfg.model.reference_checkpoint.startswith(f'work_dirs/{stem}/iter_')


@pytest.mark.parametrize('multi_stage', [True, False])
def test_missing_prior_stops_before_any_training(env, tmp_path, capsys, multi_stage):
    """DE needs the trained reference prior (from stage 2 on): tools/train.py must exit 2
    with the command that trains it before anything trains, not after stage 1."""
    config, record = make_config(str(tmp_path), env['data_root'], str(tmp_path / 'none.pth'),
                                 name='de_no_prior')
    if not multi_stage:  # the top level alone: the stage-3 model
        cfg = Config.fromfile(config)
        cfg.pop('stages')
        cfg.dump(config)
    work = tmp_path / 'work'
    assert env['train']([config, '--work-dir', str(work)]) == 2
    err = capsys.readouterr().err
    assert 'python tools/train.py configs/memorynet/memorynet_cuhkcr2.py' in err
    assert ('stage 2 (stage2_wa)' in err) == multi_stage
    assert records(record) == [] and not osp.exists(work / 'stage1_diffusion')


def test_missing_reference_checkpoint_names_the_command():
    cfg = Config.fromfile(MAIN_CONFIG)
    cfg.model.reference_checkpoint = '/nonexistent/memorynet.pth'
    with torch.device('meta'), pytest.raises(FileNotFoundError,
                                             match='python tools/train.py configs/memorynet/'
                                                   'memorynet_cuhkcr2.py'):
        MODELS.build(cfg.model)


def test_reference_checkpoint_written_by_crbench_training(env, tmp_path):
    """What `python tools/train.py configs/memorynet/...` leaves: a trusted MMEngine
    checkpoint with non-tensor state besides the weights."""
    from mmengine.logging import HistoryBuffer
    from crbench.models.reference.memorynet import MemoryNet
    net = MemoryNet(**{k: v for k, v in TINY_REF.items() if k != 'type'})
    path = str(tmp_path / 'iter_2.pth')
    save_trusted_checkpoint({'meta': {'iter': 2}, 'message_hub': {'loss': HistoryBuffer()},
                             'state_dict': {f'generator.{k}': v
                                            for k, v in net.state_dict().items()}}, path)
    cfg = Config.fromfile(MAIN_CONFIG).model
    cfg.cnp.update(TINY_NET)
    cfg.weight_net.update(TINY_NET)
    cfg.update(reference=dict(TINY_REF), reference_checkpoint=path)
    model = MODELS.build(cfg)
    torch.testing.assert_close(model.reference.network.tail.weight, net.tail.weight)


@pytest.mark.parametrize('path', MAIN_DE_CONFIGS, ids=osp.basename)
def test_reference_matches_its_training_config(path):
    """E is built from the same network config its own training used, and the default
    checkpoint is the final one that training writes."""
    cfg = Config.fromfile(path)
    ref_config = osp.join(REPO, cfg.model.reference_train_config)
    if not osp.isfile(ref_config):
        pytest.skip(f'{cfg.model.reference_train_config} does not exist yet')
    ref = Config.fromfile(ref_config)
    network = ref.model.get('generator')
    assert network is not None, f'{ref_config}: no model.generator'
    assert dict(cfg.model.reference) == dict(network)
    stem = osp.splitext(osp.basename(ref_config))[0]
    assert cfg.model.reference_checkpoint == \
        f'work_dirs/{stem}/iter_{ref.train_cfg.max_iters}.pth'


def test_readme_lists_every_config_with_the_reported_numbers():
    import csv
    with open(osp.join(REPO, 'configs', 'de', 'README.md')) as f:
        lines = f.read().splitlines()
    for path in DE_CONFIGS:
        assert any(osp.basename(path) in line for line in lines), path
    datasets = {'CUHK-CR1': 'cuhkcr1', 'CUHK-CR2': 'cuhkcr2', 'RICE1': 'rice1', 'RICE2': 'rice2'}
    with open(osp.join(REPO, 'leaderboard', 'reported.csv')) as f:
        rows = [r for r in csv.DictReader(f)
                if r['model'] in ('de_memorynet', 'de_msda') and r['source'].startswith('DE ')]
    assert len(rows) == 24
    for row in rows:
        name = f"`{row['model']}_{datasets[row['dataset']]}.py`"
        line = next(line for line in lines if line.startswith(f'| {name}'))
        assert row['value'] in line and row['table'] in line, (name, row)

