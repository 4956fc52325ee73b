"""DE as a user runs it: train the prior, then all three stages, then test with DDIM and DDPM.

Everything goes through tools/train.py and tools/test.py on synthetic CUHK-CR2;
only the network widths, image size and schedules are made tiny.
"""
import glob
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
STAGES = ('stage1_diffusion', 'stage2_wa', 'stage3_joint')
TINY_UNET = dict(model_channels=16, channel_mult=(1, 2), norm_groups=8,
                 attention_downsample=(2, ), num_heads=2)
TINY_REF = dict(n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1)
ITERS = 8


def tool(name):
    spec = importlib.util.spec_from_file_location(f'crbench_e2e_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def loader_options():
    return [f'{k}.{o}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
            for o in ('num_workers=0', 'persistent_workers=False')]


def logged_losses(stage_dir):
    (scalars, ) = glob.glob(osp.join(stage_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        return [json.loads(line)['loss'] for line in f if '"loss"' in line]


def tiny_de_config(folder, data_root, ref_ckpt):
    cfg = Config.fromfile(osp.join(REPO, 'configs/de/de_memorynet_cuhkcr2.py'))
    cfg.model.cnp.update(TINY_UNET)
    cfg.model.weight_net.update(TINY_UNET)
    cfg.model.reference.update(TINY_REF)
    cfg.model.reference_checkpoint = ref_ckpt
    cfg.model.sampler = dict(type='DDIMSampler', num_steps=3, eta=0.0)
    cfg.model.sampling_seed = 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].update(num_workers=0, persistent_workers=False)
        cfg[key].dataset.data_root = data_root
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=ITERS, save_best=None)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.optim_wrapper.optimizer.lr = 2e-3  # the paper's 1e-5 needs thousands of iterations
    for stage in cfg.stages:
        options = stage.cfg_options
        options.train_dataloader.batch_size = 4  # the whole synthetic train split
        options.train_cfg.update(max_iters=ITERS, val_interval=ITERS)
    for transform in cfg.train_pipeline_64:  # the pipeline stage 1 names
        if transform['type'] == 'MatlabResize' and transform.get('size'):
            transform['size'] = (8, 8)  # stage 1 resizes the whole image (64 in DE)
    path = osp.join(folder, 'de_tiny.py')
    cfg.dump(path)
    return path


@pytest.mark.slow
def test_prior_then_three_stages_then_ddim_and_ddpm(tmp_path):
    from crbench.datasets.synthetic import write_cuhk
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 4, 'test': 2}, size=32)
    data_root = osp.join(top, 'CUHK-CR2')
    train, test = tool('train'), tool('test')

    # 1. the reference prior E: a tiny MemoryNet trained by the same command users run
    ref_dir = str(tmp_path / 'memorynet')
    assert train(['configs/memorynet/memorynet_cuhkcr2.py', '--work-dir', ref_dir,
                  '--data-root', data_root, '--cfg-options', *loader_options(),
                  *[f'model.generator.{k}={v}' for k, v in TINY_REF.items()],
                  'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                  'default_hooks.checkpoint.interval=2']) == 0
    ref_ckpt = osp.join(ref_dir, 'iter_2.pth')

    # 2. the three DE stages in one command
    config = tiny_de_config(str(tmp_path), data_root, ref_ckpt)
    work = str(tmp_path / 'de')
    assert train([config, '--work-dir', work]) == 0
    for stage in STAGES:
        losses = logged_losses(osp.join(work, stage))
        assert len(losses) == ITERS, stage
        first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
        assert last < first, (stage, losses)

    # 3. test the final model with DDIM and with DDPM: one results JSON each
    final = osp.join(work, 'stage3_joint', f'iter_{ITERS}.pth')
    results = str(tmp_path / 'results')
    for sampler in ('DDIMSampler', 'DDPMSampler'):  # swapped by config alone
        variant = osp.join(str(tmp_path), f'de_tiny_{sampler}.py')
        with open(variant, 'w') as f:
            f.write(f"_base_ = ['./de_tiny.py']\n"
                    f"model = dict(sampler=dict(_delete_=True, type='{sampler}', num_steps=3))\n")
        argv = [variant, final, '--work-dir', str(tmp_path / 'test'), '--results-dir', results]
        assert test(argv) == 0
    records = [json.load(open(p)) for p in glob.glob(osp.join(results, '*.json'))]
    assert len(records) == 2  # different samplers are different runs
    for record in records:
        assert record['protocol'] == 'cuhk_official' and record['synthetic'] is True
        assert {'PSNR', 'SSIM', 'RMSE'} <= set(record['metrics'])
