"""A distributed run's lifetime: set up before the Runner, torn down on every way out.

A process that exits with gloo's process group still alive can abort during
interpreter shutdown ("terminate called without an active exception", exit 134):
gloo's worker threads outlive the objects they use, and torchrun or Slurm then
report the whole job failed although training finished. So the tools tear down
explicitly, before the interpreter finalises: first any data-loader worker
processes still running (persistent workers, or an iterator left behind by an
exception), then the process group.

:func:`init_distributed` (``crbench train`` / ``crbench test``) registers the
teardown with :mod:`atexit`, which runs on every normal interpreter exit (return,
uncaught exception, ``sys.exit``, Ctrl-C) and before torch's own exit handlers.
"""
import atexit
import gc
from typing import Optional

from .compat import init_cpu_distributed

_registered = False


def shutdown_dataloader_workers() -> int:
    """Stop the worker processes of every live multi-process data-loader iterator.

    Returns how many iterators were shut down.
    """
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter
    stopped = 0
    for obj in gc.get_objects():
        # type(), not isinstance(): isinstance reads __class__, which warns on some
        # deprecated torch proxies that gc also returns
        if issubclass(type(obj), _MultiProcessingDataLoaderIter) and not obj._shutdown:
            obj._shutdown_workers()
            stopped += 1
    return stopped


def teardown_distributed() -> None:
    """Shut down data-loader workers, then destroy the default process group (if any).

    Safe to call more than once and without a process group.
    """
    import torch.distributed as dist
    shutdown_dataloader_workers()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def init_distributed(launcher: str, backend: Optional[str] = None) -> bool:
    """Initialise a CPU process group (see ``init_cpu_distributed``) and make sure
    :func:`teardown_distributed` runs when the interpreter exits.

    Returns True when this call initialised the group.
    """
    global _registered
    if launcher != 'none' and not _registered:
        atexit.register(teardown_distributed)
        _registered = True
    return init_cpu_distributed(launcher, backend)

