"""UnCRtainTS end to end on synthetic data: Runner training with a falling loss, tools/test.py
to a results JSON (with uncertainty maps), and bit-exact resume (multi-temporal case).

Tiny variants of configs/uncrtaints/uncrtaints_{l2_sen12mscr,sen2mtc_new}.py: only the
network width, the schedule and the loaders change (config files inheriting from them).
"""
import math
import os
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from PIL import Image

from crbench.apis import prepare_config
from crbench.datasets.synthetic import write_sen12mscr, write_sen2mtc

from helpers import results_of_test_tool

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# name -> (config, data writer, network overrides, loss key, dataset, protocol, extra)
CASES = {
    'l2_sen12mscr': ('uncrtaints_l2_sen12mscr.py',
                     lambda d: write_sen12mscr(d, {'ROIs1158_spring': (1, 31),  # 2 train, 1 test
                                                   'ROIs1868_summer': (4, )},
                                               patches_per_scene=1, size=16),
                     dict(width=8, decoder_blocks=2), 'loss_l2', 'SEN12MS-CR',
                     'sen12mscr_official', ''),
    # the official protocol's SAM is NaN on a black pixel of a barely trained model (see
    # tests/models/diffusion/test_emrdm_end_to_end.py): the standard protocol here
    'sen2mtc_new': ('uncrtaints_sen2mtc_new.py',
                    lambda d: write_sen2mtc(d, images_per_tile=1, size=16),
                    dict(width=8, n_head=4, d_model=8, d_k=2, decoder_blocks=2), 'loss_nll',
                    'Sen2_MTC_New', 'standard',
                    "test_evaluator = dict(type='CRMetric', protocol='standard')\n"),
}


def write_config(folder, name, base, network, iters, ckpt_interval=None, extra=''):
    text = f"""
_base_ = [{osp.join(REPO, 'configs', 'uncrtaints', base)!r}]
model = dict(generator={network!r})
optim_wrapper = dict(optimizer=dict(lr=3e-3))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval={10 ** 6})
default_hooks = dict(checkpoint=dict(interval={ckpt_interval or iters}, max_keep_ckpts=5,
                                     save_best=None),
                     logger=dict(interval=1))
randomness = dict(seed=0, deterministic=True)
{extra}
"""
    path = osp.join(folder, f'{name}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def runner_for(config, work_dir, data_root, resume_from=None):
    cfg = prepare_config(config, work_dir, data_root)
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    cfg.experiment_name = f'uncrtaints-e2e-{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('case', list(CASES))
def test_trains_tests_and_resumes_exactly(case, tmp_path, restore_determinism):
    base, write, network, loss_key, dataset_name, protocol, extra = CASES[case]
    data_root = write(str(tmp_path / 'data'))
    iters = 10
    config = write_config(str(tmp_path), case, base, network, iters, ckpt_interval=iters // 2,
                          extra=extra)
    runner = runner_for(config, str(tmp_path / 'straight'), data_root)
    runner.train()
    history = runner.message_hub.get_scalar(f'train/{loss_key}').data[0]
    assert len(history) == iters and all(math.isfinite(v) for v in history)
    first, last = history[:2].mean(), history[-2:].mean()
    assert last < first - 0.15 * abs(first), (case, history)

    if case == 'sen2mtc_new':  # (attention dropout draws from the global generator)
        # resume from the middle checkpoint in a fresh work dir: bit-exact weights and Adam state
        resumed = runner_for(config, str(tmp_path / 'resumed'), data_root,
                             resume_from=osp.join(runner.work_dir, f'iter_{iters // 2}.pth'))
        resumed.train()
        assert resumed.iter == iters
        # the checkpoint carries the first half of the log; the second half is recomputed
        logged = resumed.message_hub.get_scalar(f'train/{loss_key}').data[0]
        assert np.array_equal(logged, history)
        a, b = runner.model.state_dict(), resumed.model.state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
        sa, sb = runner.optim_wrapper.state_dict(), resumed.optim_wrapper.state_dict()
        for pid, st in sa['state'].items():
            for k, v in st.items():
                other = sb['state'][pid][k]
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(other)), (pid, k)

    record = results_of_test_tool(config, osp.join(runner.work_dir, f'iter_{iters}.pth'),
                                  data_root, tmp_path)  # work dir tmp_path / 'test'
    assert record['dataset'] == dataset_name and record['protocol'] == protocol
    assert record['synthetic'] is True and record['model'] == runner.cfg.model_name
    assert {'PSNR', 'SSIM'} <= set(record['metrics'])
    assert all(math.isfinite(v) for v in record['metrics'].values()), record['metrics']
    maps = str(tmp_path / 'test' / 'uncertainty')
    if case == 'sen2mtc_new':  # variance | squared error, 16 px each with a 4 px gap
        files = sorted(os.listdir(maps))
        assert len(files) == record['n_images'] and files[0].endswith('_uncertainty.png')
        image = np.asarray(Image.open(osp.join(maps, files[0])))
        assert image.shape == (16, 36, 3) and image[:, :16].std() > 0
    else:
        assert not osp.isdir(maps)  # the L2 model has no uncertainty hook
