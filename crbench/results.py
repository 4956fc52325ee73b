"""One JSON file per test run: what was measured, on what, with which weights."""
import datetime
import hashlib
import json
import math
import os.path as osp
import platform
import subprocess
from typing import Optional

import torch

from crbench.engine.compat import atomic_write_bytes, file_sha256
from crbench.version import __version__

SCHEMA_VERSION = 1
FORBIDDEN_METRIC_MARK = 'RANDOM'  # LPIPS from a random backbone (tests only)


class InvalidResultError(ValueError):
    """A result that must never be recorded (e.g. a random-backbone LPIPS)."""


def git_commit(repo_dir: str = None) -> Optional[str]:
    repo_dir = repo_dir or osp.dirname(osp.dirname(osp.abspath(__file__)))
    try:
        out = subprocess.run(['git', '-C', repo_dir, 'rev-parse', 'HEAD'], capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return None
        dirty = subprocess.run(['git', '-C', repo_dir, 'status', '--porcelain',
                                '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device=None) -> str:
    """A readable name of ``device`` (default: the first GPU if any, else the CPU)."""
    device = torch.device(device) if device is not None else torch.device(
        'cuda' if torch.cuda.is_available() else 'cpu')
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({platform.processor() or platform.machine()})'


def build_record(*, model: str, config: str, dataset: str, split: str, protocol: str,
                 metrics: dict, n_images: int, checkpoint: Optional[str], synthetic: bool,
                 unavailable_metrics=(), model_display: Optional[str] = None,
                 extra: Optional[dict] = None) -> dict:
    """Assemble and validate a result record (the schema of docs/contracts.md)."""
    clean, undefined = {}, []
    for key, value in metrics.items():
        if FORBIDDEN_METRIC_MARK in key.upper():
            raise InvalidResultError(
                f'metric {key!r} comes from a randomly initialised LPIPS backbone, which '
                'exists for tests only; it is never written to a result. Provide the real '
                'AlexNet weights (see README, "LPIPS weights") to report LPIPS.')
        if key == 'n_images':
            continue
        value = float(value)
        if not math.isfinite(value):
            # e.g. SAM when every image has an all-zero pixel vector: the NaN-skipping
            # mean has nothing left. Recorded as undefined, never as a number.
            undefined.append(key)
            continue
        clean[key] = value
    sha = file_sha256(checkpoint) if checkpoint and osp.isfile(checkpoint) else None
    identity = json.dumps([model, config, dataset, split, protocol, sha, synthetic,
                           sorted((extra or {}).items(), key=str)], default=str)
    record = dict(
        schema_version=SCHEMA_VERSION, model=model, model_display=model_display or model,
        config=config, dataset=dataset, split=split, protocol=protocol, metrics=clean,
        unavailable_metrics=sorted(unavailable_metrics), undefined_metrics=sorted(undefined),
        n_images=int(n_images),
        checkpoint=checkpoint, checkpoint_sha256=sha, crbench_version=__version__,
        git_commit=git_commit(), device=device_name(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        synthetic=bool(synthetic),
        # Same model, weights, data and protocol -> same run id: re-running a test
        # replaces its file instead of adding a duplicate.
        run_id=hashlib.sha256(identity.encode()).hexdigest()[:16])
    if extra:
        record.update(extra)
    return record


def write_record(record: dict, results_dir: str) -> str:
    """Write ``record`` atomically to ``<results_dir>/<model>_<dataset>_<run_id>.json``."""
    name = f"{record['model']}_{record['dataset']}_{record['protocol']}_{record['run_id']}.json"
    path = osp.join(results_dir, name.replace('/', '-'))
    atomic_write_bytes(path, (json.dumps(record, indent=2, sort_keys=True) + '\n').encode())
    return path
