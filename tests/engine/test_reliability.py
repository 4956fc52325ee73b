"""Scale and reliability: distributed CPU runs, exact resume, crash-safe saving,
non-finite losses, refusal of malicious checkpoints, one result file per run.

Everything runs a tiny MemoryNet on a synthetic CUHK-CR2 copy (4 + 4 images, 16×16
after the resize) on CPU with one thread per process.
"""
import json
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest
import torch
from mmengine.hooks import Hook

from crbench.engine import (NonFiniteLossError, NonFiniteLossHook, UntrustedCheckpointError,
                            is_trusted_checkpoint, load_checkpoint_file,
                            save_trusted_checkpoint)
from crbench.models.restorers import SupervisedRestorer
from crbench.registry import MODELS

from helpers import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/memorynet/memorynet_cuhkcr2.py'
TINY = {
    'model.generator.n_feat': 8, 'model.generator.scale_unetfeats': 4,
    'model.generator.scale_orsnetfeats': 4, 'model.generator.num_cab': 1,
    'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
    'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
}
TIMEOUT = 300


def cli_options(options: dict) -> list:
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def train_options(max_iters: int, ckpt_interval: int) -> dict:
    return dict(TINY, **{'train_cfg.max_iters': max_iters, 'train_cfg.val_interval': 1000,
                         'default_hooks.checkpoint.interval': ckpt_interval,
                         'default_hooks.logger.interval': 1})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(cmd, **env_extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable,
               PYTHONPATH=REPO, **env_extra)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, (f'{cmd} failed ({proc.returncode}):\n'
                                  f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    from crbench.datasets.synthetic import write_cuhk
    top = write_cuhk(str(tmp_path_factory.mktemp('data')), 'CUHK-CR2',
                     {'train': 4, 'test': 4}, size=32)
    return osp.join(top, 'CUHK-CR2')


def tiny_cfg(data_root: str, work_dir: str, options: dict):
    from crbench.apis import prepare_config
    cfg = prepare_config(osp.join(REPO, CONFIG), work_dir, data_root, options)
    cfg.experiment_name = f'reliability-{uuid.uuid4().hex[:8]}'  # one Runner each
    return cfg


def build_runner(cfg):
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


def weights(model) -> dict:
    model = getattr(model, 'module', model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_logs(work_dir) -> str:
    """The Runner's log files of a work dir (they keep the environment dump the console
    leaves out, see crbench/engine/runner.py)."""
    import glob
    text = ''
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        with open(path) as f:
            text += f.read()
    return text


def results_in(folder) -> list:
    return sorted(f for f in os.listdir(folder) if f.endswith('.json')) \
        if osp.isdir(folder) else []


# --------------------------------------------------------------------------- (a)
def test_two_process_training_and_test_equal_one_process_test(data_root, tmp_path):
    work = str(tmp_path / 'work')
    proc = run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--data-root', data_root,
                '--work-dir', work] + cli_options(train_options(4, 4)), PORT=str(free_port()))
    assert 'Distributed training: True' in run_logs(work)
    assert proc.returncode == 0  # no task aborted after training (torchrun reports any)
    checkpoint = osp.join(work, 'iter_4.pth')
    assert is_trusted_checkpoint(checkpoint)
    assert load_checkpoint_file(checkpoint)['meta']['iter'] == 4

    two = str(tmp_path / 'results_2proc')
    run(['bash', 'tools/dist_test.sh', CONFIG, checkpoint, '2', '--data-root', data_root,
         '--work-dir', str(tmp_path / 'test2'), '--results-dir', two] + cli_options(TINY),
        PORT=str(free_port()))
    one = str(tmp_path / 'results_1proc')
    assert load_tool('test').main([CONFIG, checkpoint, '--data-root', data_root, '--work-dir',
                                   str(tmp_path / 'test1'), '--results-dir', one]
                                  + cli_options(TINY)) == 0
    (r2,), (r1,) = results_in(two), results_in(one)
    with open(osp.join(two, r2)) as f2, open(osp.join(one, r1)) as f1:
        rec2, rec1 = json.load(f2), json.load(f1)
    assert rec1['n_images'] == rec2['n_images'] == 4
    assert set(rec1['metrics']) >= {'PSNR', 'SSIM', 'RMSE'}
    assert rec2['metrics'] == rec1['metrics']  # the very same numbers


def test_slurm_train_script_runs_two_cpu_tasks(data_root, tmp_path):
    """tools/slurm_train.sh under a stand-in srun that starts the tasks locally."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        echo "$@" > {tmp_path}/srun_args
        n=1
        while [ $# -gt 0 ]; do
            case "$1" in
                --ntasks=*) n=${{1#--ntasks=}} ;;
                -p) shift ;;
                -*) ;;
                *) break ;;
            esac
            shift
        done
        pids=()
        for ((i = 0; i < n; i++)); do
            SLURM_PROCID=$i SLURM_NTASKS=$n SLURM_LOCALID=$i SLURM_JOB_NODELIST=node1 "$@" &
            pids+=($!)
        done
        rc=0
        for p in "${{pids[@]}}"; do wait "$p" || rc=$?; done
        exit $rc
        """))
    (bin_dir / 'scontrol').write_text('#!/usr/bin/env bash\necho 127.0.0.1\n')
    for tool in ('srun', 'scontrol'):
        os.chmod(bin_dir / tool, 0o755)
    work = str(tmp_path / 'work')
    proc = run(['bash', 'tools/slurm_train.sh', 'cpu', 'crbench-test', CONFIG, work,
                '--data-root', data_root] + cli_options(train_options(2, 2)),
               PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='2', GPUS_PER_NODE='0',
               PORT=str(free_port()))
    srun_args = (tmp_path / 'srun_args').read_text()
    assert '--ntasks=2' in srun_args and '--gres' not in srun_args and '-p cpu' in srun_args
    assert 'Distributed training: True' in run_logs(work)
    assert 'terminate called' not in proc.stdout + proc.stderr
    assert is_trusted_checkpoint(osp.join(work, 'iter_2.pth'))


# --------------------------------------------------------------------------- (b)
def test_resume_is_bit_exact(data_root, tmp_path, restore_determinism):
    options = dict(train_options(4, 2), **{'randomness.deterministic': True})
    straight = tiny_cfg(data_root, str(tmp_path / 'straight'), options)
    assert straight.train_dataloader.sampler.type == 'InfiniteSampler'
    assert straight.randomness == dict(seed=0, deterministic=True)
    runner = build_runner(straight)
    runner.train()
    uninterrupted = weights(runner.model)
    first_half = osp.join(straight.work_dir, 'iter_2.pth')
    assert load_checkpoint_file(first_half)['meta']['iter'] == 2

    # "crash" after iteration 2: a new process state resumes from iter_2.pth
    resumed_cfg = tiny_cfg(data_root, str(tmp_path / 'resumed'), options)
    resumed_cfg.resume, resumed_cfg.load_from = True, first_half
    runner = build_runner(resumed_cfg)
    runner.train()
    assert runner.iter == 4
    resumed = weights(runner.model)
    assert uninterrupted.keys() == resumed.keys()
    start = load_checkpoint_file(first_half)['state_dict']
    assert any(not torch.equal(start[k], resumed[k]) for k in resumed)  # it did train
    for key in uninterrupted:
        assert torch.equal(uninterrupted[key], resumed[key]), key


# --------------------------------------------------------------------------- (c)
def test_kill_during_save_keeps_previous_checkpoint(data_root, tmp_path):
    cfg = tiny_cfg(data_root, str(tmp_path / 'work'), train_options(2, 2))
    build_runner(cfg).train()
    checkpoint = osp.join(cfg.work_dir, 'iter_2.pth')
    with open(checkpoint, 'rb') as f:
        before = f.read()
    with open(checkpoint + '.sha256') as f:
        sidecar_before = f.read()
    assert is_trusted_checkpoint(checkpoint)

    # 1. an exception inside torch.save (after part of the temporary file is written)
    def crashing_save(obj, f, *args, **kwargs):
        with open(f, 'wb') as out:
            out.write(before[:len(before) // 2])
        raise KeyboardInterrupt('simulated crash while saving')

    original_save = torch.save
    torch.save = crashing_save
    try:
        with pytest.raises(KeyboardInterrupt):
            save_trusted_checkpoint({'state_dict': {'w': torch.zeros(3)}}, checkpoint)
    finally:
        torch.save = original_save
    # 2. a hard kill (SIGKILL, no clean-up runs) in the middle of writing the same file
    script = textwrap.dedent(f"""
        import os, signal, torch
        from crbench.engine import save_trusted_checkpoint
        def killed_save(obj, f, *a, **k):
            with open(f, 'wb') as out:
                out.write(b'PK' + os.urandom(1000))
                out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = killed_save
        save_trusted_checkpoint({{'state_dict': {{}}}}, {checkpoint!r})
        """)
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                          env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'),
                          timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    with open(checkpoint, 'rb') as f:
        assert f.read() == before
    with open(checkpoint + '.sha256') as f:
        assert f.read() == sidecar_before
    assert is_trusted_checkpoint(checkpoint)
    loaded = load_checkpoint_file(checkpoint)  # full (trusted) unpickling
    assert loaded['meta']['iter'] == 2 and 'message_hub' in loaded
    # the killed process left only a hidden temporary file, never a broken iter_2.pth
    leftovers = [f for f in os.listdir(cfg.work_dir) if f.endswith('.tmp')]
    assert all(f.startswith('.iter_2.pth.') for f in leftovers) and len(leftovers) == 1

    resume = tiny_cfg(data_root, str(tmp_path / 'resume'), train_options(3, 100))
    resume.resume, resume.load_from = True, checkpoint
    runner = build_runner(resume)
    runner.train()
    assert runner.iter == 3


# --------------------------------------------------------------------------- (d)
@MODELS.register_module(force=True)
class NaNAtIterationRestorer(SupervisedRestorer):
    """Returns a NaN Charbonnier term at training iteration ``nan_at`` (1-based)."""

    def __init__(self, nan_at: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.nan_at, self.calls = nan_at, 0

    def loss(self, inputs, data_samples):
        self.calls += 1
        losses = super().loss(inputs, data_samples)
        if self.calls == self.nan_at:
            losses['loss_charbonnier'] = losses['loss_charbonnier'] * float('nan')
        return losses


class WeightSnapshotHook(Hook):
    """Keeps a copy of the weights after every training iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.snapshots = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.snapshots.append(weights(runner.model))


def nan_runner(data_root, work_dir, policy, max_iters):
    cfg = tiny_cfg(data_root, work_dir, train_options(max_iters, 100))
    cfg.model.type = 'NaNAtIterationRestorer'
    cfg.model.nan_at = 3
    cfg.custom_hooks = [dict(type='NonFiniteLossHook', policy=policy)]
    runner = build_runner(cfg)
    snapshot = WeightSnapshotHook()
    runner.register_hook(snapshot)
    return runner, snapshot


def test_nonfinite_loss_stops_with_iteration_and_terms(data_root, tmp_path):
    from mmengine.config import Config
    runtime = Config.fromfile(osp.join(REPO, 'configs/_base_/default_runtime.py'))
    assert dict(type='NonFiniteLossHook', policy='stop') in runtime.custom_hooks

    runner, snapshot = nan_runner(data_root, str(tmp_path / 'stop'), 'stop', 5)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert 'iteration 3 (of 5)' in message
    assert 'loss_charbonnier=nan' in message and 'loss=nan' in message
    edge = re.search(r'loss_edge=([0-9.e+-]+?)[.,]? ', message)
    assert edge and 0 < float(edge.group(1)) < 10  # the finite term is named with its value
    assert len(snapshot.snapshots) == 2  # stopped inside iteration 3, before its update
    now = weights(runner.model)
    assert all(torch.equal(now[k], snapshot.snapshots[-1][k]) for k in now)

    with pytest.raises(ValueError, match='policy'):
        NonFiniteLossHook(policy='ignore')


def test_nonfinite_loss_skip_policy_skips_the_update(data_root, tmp_path):
    runner, snapshot = nan_runner(data_root, str(tmp_path / 'skip'), 'skip', 4)
    runner.train()
    assert runner.iter == 4
    hook = next(h for h in runner.hooks if isinstance(h, NonFiniteLossHook))
    assert hook.skipped == 1
    after2, after3, after4 = snapshot.snapshots[1:]
    assert all(torch.equal(after2[k], after3[k]) for k in after2)  # iteration 3 skipped
    assert any(not torch.equal(after3[k], after4[k]) for k in after3)  # 4 updated again
    steps = {int(s['step']) for s in runner.optim_wrapper.optimizer.state.values()}
    assert steps == {3}  # Adam stepped 3 times in 4 iterations: its state was not touched
    assert all(torch.isfinite(v).all() for v in after4.values())
    # the hook restored the methods it wrapped
    assert 'update_params' not in vars(runner.optim_wrapper)
    assert 'parse_losses' not in vars(runner.model)


# --------------------------------------------------------------------------- (e)
class _Payload:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_malicious_pickle_is_refused_and_never_runs(data_root, tmp_path, capsys):
    from mmengine.logging import HistoryBuffer
    pwned = tmp_path / 'pwned'
    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _Payload(f'touch {pwned}')}, evil)

    with pytest.raises(UntrustedCheckpointError, match='not written by crbench'):
        load_checkpoint_file(evil)
    assert not pwned.exists()

    results = str(tmp_path / 'results')
    try:
        code = load_tool('test').main([CONFIG, evil, '--data-root', data_root, '--work-dir',
                                       str(tmp_path / 'work'), '--results-dir', results]
                                      + cli_options(TINY))
        refused = code != 0 and 'not written by crbench' in capsys.readouterr().err
    except UntrustedCheckpointError:
        refused = True
    assert refused and not pwned.exists() and results_in(results) == []

    # a sidecar copied from a real crbench checkpoint does not make the file trusted
    good = str(tmp_path / 'good.pth')
    save_trusted_checkpoint({'state_dict': {'w': torch.ones(2)}, 'hub': HistoryBuffer()}, good)
    assert isinstance(load_checkpoint_file(good)['hub'], HistoryBuffer)  # positive control
    shutil.copy(good + '.sha256', evil + '.sha256')
    assert not is_trusted_checkpoint(evil)
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(evil)
    with open(evil + '.sha256', 'w') as f:
        f.write('0' * 64 + '\n')
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(evil)
    assert not pwned.exists()


# --------------------------------------------------------------------------- (f)
def test_testing_twice_leaves_one_result_file(data_root, tmp_path):
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), TINY)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)  # a plain weights file
    test_tool = load_tool('test')
    results = str(tmp_path / 'results')
    argv = [CONFIG, checkpoint, '--data-root', data_root, '--results-dir', results,
            '--work-dir', str(tmp_path / 'test')] + cli_options(TINY)
    assert test_tool.main(argv) == 0
    first = results_in(results)
    assert test_tool.main(argv) == 0
    assert results_in(results) == first and len(first) == 1

    # other weights are another run: a second file
    other = str(tmp_path / 'other.pth')
    torch.save({'state_dict': {k: v + 0.01 if v.is_floating_point() else v
                               for k, v in model.state_dict().items()}}, other)
    assert test_tool.main([CONFIG, other] + argv[2:]) == 0
    assert len(results_in(results)) == 2
