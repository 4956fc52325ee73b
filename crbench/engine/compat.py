"""Make MMEngine 0.10.7 work under torch >= 2.6 and on CPU-only machines.

Imported automatically by ``import crbench``. Three things are fixed here, and
only here (see docs/environment.md for the measured failures):

1. **Checkpoint loading.** torch >= 2.6 loads with ``weights_only=True``, which
   refuses MMEngine's own resume files (they pickle ``HistoryBuffer`` and numpy
   objects). Allow-listing those needs ``builtins.getattr`` and would defeat the
   safe loader for every file. Instead crbench decides per file:

   * a checkpoint that crbench itself wrote carries a sidecar
     ``<file>.sha256`` with its digest (written by the atomic saver below); if
     the digest matches, the file is our own and is fully unpickled (optimizer
     state, message hub, EMA: what an exact resume needs);
   * every other file (pretrained, official, downloaded, converted weights) is
     loaded with ``weights_only=True``; one that needs more is refused with a
     message that says why, so a crafted pickle never executes.

2. **Atomic saving.** Checkpoints are written to a temporary file in the same
   folder and renamed into place, so a kill while saving leaves the previous
   checkpoint intact; the sidecar digest is written the same way, last.

3. **CPU distributed.** MMEngine wraps models in DDP with
   ``device_ids=[LOCAL_RANK]`` and calls ``torch.cuda.set_device``; on CPU both
   fail. ``CPUCompatibleDDP`` drops ``device_ids`` for CPU modules and
   :func:`init_cpu_distributed` initialises gloo before the Runner does.
"""
import hashlib
import os
import os.path as osp
import pickle
import tempfile
from typing import Optional

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import checkpoint as mm_checkpoint
from mmengine.runner import runner as mm_runner

from crbench.registry import MODEL_WRAPPERS

SIDECAR_SUFFIX = '.sha256'


class UntrustedCheckpointError(RuntimeError):
    """A weights file needs full unpickling but is not one crbench wrote."""


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save`` through a temporary file and a rename (no sidecar: for plain
    weights files, e.g. converted official checkpoints, which load with weights_only)."""
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(str(path), buffer.getvalue())


def save_trusted_checkpoint(checkpoint: dict, filename: str, **_unused) -> None:
    """Save a crbench checkpoint atomically and record its digest beside it.

    The order makes every crash point safe: the sidecar first lists both the
    old and the new digest, then the new file replaces the old one, then the
    sidecar keeps only the new digest. Whatever is on disk after a kill is a
    complete checkpoint whose digest the sidecar accepts.
    """
    filename = str(filename)
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(filename) + '.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        digest = file_sha256(tmp)
        previous = trusted_digests(filename)
        atomic_write_bytes(filename + SIDECAR_SUFFIX,
                           ''.join(f'{d}\n' for d in [digest] + previous).encode())
        os.replace(tmp, filename)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    atomic_write_bytes(filename + SIDECAR_SUFFIX, (digest + '\n').encode())


def trusted_digests(filename: str) -> list:
    sidecar = filename + SIDECAR_SUFFIX
    if not osp.isfile(sidecar):
        return []
    with open(sidecar) as f:
        return [line.strip() for line in f if line.strip()]


def is_trusted_checkpoint(filename: str) -> bool:
    """True when ``filename``'s content matches a digest in its sidecar.

    The sidecar proves the file is intact and was written by crbench's saver;
    it is not a signature: whoever can write files into the work dir can also
    write a matching sidecar.
    """
    accepted = trusted_digests(filename)
    return bool(accepted) and file_sha256(filename) in accepted


def load_checkpoint_file(filename: str, map_location=None):
    """Load a local weights file under crbench's trust rule (module docstring)."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint {filename!r} does not exist; pass the path of a .pth file '
            '(training writes them to work_dirs/<config name>/)')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if is_trusted_checkpoint(filename):
            return torch.load(filename, map_location=map_location, weights_only=False)
        raise UntrustedCheckpointError(
            f'{filename!r} contains pickled Python objects beyond tensors, and it was not '
            f'written by crbench (no matching {SIDECAR_SUFFIX} sidecar). crbench loads '
            'outside weights only with weights_only=True, so that a crafted file cannot '
            'run code. Convert it to a plain state dict of tensors (see '
            'tools/model_converters/) and load that instead. '
            f'Loader message: {str(err).splitlines()[0]}') from None


def _install_checkpoint_io() -> None:
    mm_checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_checkpoint_file, force=True)
    # Runner.save_checkpoint calls the name imported into the runner module.
    mm_runner.save_checkpoint = save_trusted_checkpoint
    mm_checkpoint.save_checkpoint = save_trusted_checkpoint


@MODEL_WRAPPERS.register_module()
class CPUCompatibleDDP(MMDistributedDataParallel):
    """MMEngine's DDP wrapper, usable for CPU modules (gloo) as well as CUDA."""

    def __init__(self, module, device_ids=None, **kwargs):
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            device_ids = None  # DDP requires None for CPU modules
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def init_cpu_distributed(launcher: str, backend: Optional[str] = None) -> bool:
    """Initialise torch.distributed for CPU runs before the Runner does.

    MMEngine's own initialisation calls ``torch.cuda.set_device``, which fails
    without a GPU. Returns True when this function initialised the group.
    """
    import torch.distributed as dist
    if launcher == 'none' or dist.is_initialized() or torch.cuda.is_available():
        return False
    dist.init_process_group(backend=backend or 'gloo')
    return True


_install_checkpoint_io()
