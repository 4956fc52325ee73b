"""crbench.engine.dist: the process group and data-loader workers are torn down on every
way out of a distributed run (a gloo group left to interpreter shutdown can abort the
process with exit 134 after training finished)."""
import os
import socket
import subprocess
import sys
import textwrap

import torch
from torch.utils.data import DataLoader

from crbench.engine.dist import shutdown_dataloader_workers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def single_process_env() -> dict:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK='0',
                WORLD_SIZE='1', LOCAL_RANK='0', OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH'))
                                           if p))


def run_script(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(body)], cwd=REPO,
                          env=single_process_env(), capture_output=True, text=True,
                          timeout=120)


def test_script_form_tears_down_before_interpreter_exit():
    # atexit runs handlers last-in first-out: one registered before init_distributed
    # runs after the teardown and sees the group gone, on sys.exit and on an exception
    for ending in ('sys.exit(0)', "raise RuntimeError('boom')"):
        proc = run_script(f'''
            import atexit, sys
            import torch.distributed as dist
            atexit.register(lambda: print('at exit', dist.is_initialized(), flush=True))
            from crbench.engine.dist import init_distributed
            assert init_distributed('pytorch') and dist.is_initialized()
            {ending}
        ''')
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        assert 'at exit False' in proc.stdout, (ending, proc.stdout, proc.stderr[-3000:])


def test_persistent_dataloader_workers_are_stopped():
    loader = DataLoader(list(range(4)), batch_size=2, num_workers=1, persistent_workers=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    workers = loader._iterator._workers
    assert workers and all(w.is_alive() for w in workers)
    assert shutdown_dataloader_workers() >= 1
    assert not any(w.is_alive() for w in workers)
    assert shutdown_dataloader_workers() == 0  # nothing left to stop
    del loader
    torch.set_num_threads(1)
