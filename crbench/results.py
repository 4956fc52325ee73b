"""One JSON file per test run: what was measured, on what, with which weights.

Beside ``<name>.json`` a test run writes ``<name>.config.py`` (the effective
config, ``provenance.config``) and ``<name>.per_image.csv`` (one row per scored
image, ``per_image``); the JSON holds the sha256 of both. ``provenance`` also
records the ``--cfg-options`` given, whether the model or schedule differ from
the repository config (``variant``), a fingerprint of the dataset files read,
the skipped samples, and the checkpoint's origin (its training config or its
conversion metadata). ``metrics_ci95`` holds the 95 % bootstrap interval of each
mean over images (crbench/evaluation/statistics.py).
"""
import datetime
import hashlib
import io
import json
import math
import os.path as osp
import platform
import subprocess
from typing import Iterable, List, Optional

import torch

from crbench.engine.compat import atomic_write_bytes, file_sha256
from crbench.version import __version__

SCHEMA_VERSION = 1  # the provenance, per_image and metrics_ci95 fields are additions
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# What makes a run a variant of its repository config (the data root, loader
# workers or visualisation hooks do not).
VARIANT_KEYS = ('model', 'train_cfg', 'optim_wrapper', 'param_scheduler', 'stages')
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
                 extra: Optional[dict] = None, provenance: Optional[dict] = None) -> dict:
    """Assemble and validate a result record (the schema of docs/contracts.md).

    The run id hashes the model, config, dataset, split, protocol, checkpoint,
    ``extra`` and, from ``provenance``, the ``--cfg-options`` and the dataset
    fingerprint: runs that differ only in an override get different files.
    """
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
    provenance = provenance or {}
    identity = [model, config, dataset, split, protocol, sha, synthetic,
                sorted((extra or {}).items(), key=str)]
    if provenance:
        identity += [sorted((provenance.get('cfg_options') or {}).items(), key=str),
                     (provenance.get('dataset_fingerprint') or {}).get('sha256')]
    identity = json.dumps(identity, default=str)
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
    if provenance:
        record['provenance'] = provenance
    if extra:
        record.update(extra)
    return record


# ----------------------------------------------------------------------------- provenance
def files_read(dataset) -> List[str]:
    """Every file a dataset's samples read (the ``*_path`` entries of its data list)."""
    files = set()
    for info in dataset.data_list:
        for key, value in info.items():
            if key.endswith('_path') and value:
                files.update(value if isinstance(value, (list, tuple)) else [value])
    return sorted(files)


def dataset_fingerprint(dataset) -> dict:
    """sha256 of the sorted (path relative to ``data_root``, size in bytes) of the files read."""
    root = osp.abspath(dataset.data_root)
    entries = sorted((osp.relpath(osp.abspath(p), root), osp.getsize(p))
                     for p in files_read(dataset))
    digest = hashlib.sha256()
    for rel, size in entries:
        digest.update(f'{rel}\t{size}\n'.encode())
    return dict(sha256=digest.hexdigest(), n_files=len(entries),
                total_bytes=int(sum(size for _, size in entries)))


def _plain(value):
    """JSON-comparable form of a config value (tuples -> lists, keys sorted)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _config_dict(cfg) -> dict:
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)


def variant_reasons(config: str, cfg, cfg_options: Optional[dict],
                    checkpoint_meta: Optional[dict] = None) -> List[str]:
    """Why a run's model or schedule is not the repository config's ([] if it is).

    Compared on ``VARIANT_KEYS``: the config file itself (one outside the
    repository's configs/ is a variant), the effective config after
    ``--cfg-options``, and the training config stored in an MMEngine checkpoint
    (``meta['cfg']``), which catches weights trained with overrides.
    """
    from crbench.apis import load_config
    reasons = []
    # A config outside crbench's config folders is a variant when it runs one of crbench's
    # own models (it may change anything); a plugin's own model has no repository config.
    from crbench.commands._common import config_roots
    roots = [osp.abspath(r) + osp.sep for r in config_roots()] + [
        osp.join(REPO_ROOT, 'configs') + osp.sep]
    own_model = any(osp.isdir(osp.join(r, str(cfg.get('model_name', '')))) for r in roots)
    if not osp.abspath(config).startswith(tuple(roots)) and own_model:
        reasons.append(f'{config} is not a repository config (configs/)')
    repo = _config_dict(load_config(config))
    effective = _config_dict(cfg)
    changed = [k for k in VARIANT_KEYS if _plain(repo.get(k)) != _plain(effective.get(k))]
    if changed:
        options = sorted(k for k in (cfg_options or {}) if k.split('.')[0] in VARIANT_KEYS)
        reasons.append(f'the effective config changes {changed}'
                       + (f' (--cfg-options {options})' if options else ''))
    trained = (checkpoint_meta or {}).get('cfg')
    if isinstance(trained, str) and not repo.get('stages'):
        try:
            from mmengine.config import Config
            trained_cfg = _config_dict(Config.fromstring(trained, '.py'))
        except Exception:  # noqa: BLE001 - an unparsable stored config is only not compared
            trained_cfg = None
        if trained_cfg is not None and not trained_cfg.get('stages'):
            differ = [k for k in VARIANT_KEYS if k in trained_cfg
                      and _plain(repo.get(k)) != _plain(trained_cfg.get(k))]
            if differ:
                reasons.append(f'the checkpoint was trained with a config whose {differ} differ')
    return reasons


CONVERSION_KEYS = ('crbench_conversion', 'conversion')


def checkpoint_provenance(meta: Optional[dict]) -> dict:
    """Where the weights come from, read from the checkpoint's ``meta`` (:func:`checkpoint_meta`).

    ``source_format``: 'converted' (a converter's metadata is recorded as
    ``conversion``: the ``crbench_conversion`` dict, or the converter's whole meta),
    'crbench training' (an MMEngine checkpoint written by tools/train.py), or
    'unknown' (no meta).
    """
    meta = dict(meta or {})
    # what crbench's strict loader says it loaded ('all weights', 'generator only ...')
    loaded = {k: _plain(meta.pop(k)) for k in ('loaded', 'notes') if k in meta}
    return dict(_weights_source(meta), **loaded)


def _weights_source(meta: dict) -> dict:
    if not meta:
        return dict(source_format='unknown')
    for key in CONVERSION_KEYS:
        if isinstance(meta.get(key), dict):
            return dict(source_format='converted', conversion=_plain(meta[key]))
    if 'official_repo' in meta:
        return dict(source_format='converted', conversion=_plain(meta))
    if 'cfg' in meta:
        out = dict(source_format='crbench training')
        for key in ('epoch', 'iter', 'seed', 'mmengine_version', 'time'):
            if key in meta:
                out[key] = _plain(meta[key])
        return out
    return dict(source_format='unknown', meta_keys=sorted(map(str, meta)))


def checkpoint_meta(path: Optional[str]) -> dict:
    """The ``meta`` dict of a checkpoint file ({} if it has none)."""
    if not path or not osp.isfile(path):
        return {}
    from crbench.engine.compat import load_checkpoint_file
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return meta if isinstance(meta, dict) else {}


# ----------------------------------------------------------------------------- writing
def _side_path(json_path: str, suffix: str) -> str:
    return json_path[:-len('.json')] + suffix


def per_image_csv(rows: Iterable[dict]) -> bytes:
    """The per-image table as CSV bytes: sample_id first, then the sorted columns."""
    import pandas as pd
    frame = pd.DataFrame(list(rows))
    if 'sample_id' in frame:
        frame = frame[['sample_id'] + sorted(c for c in frame.columns if c != 'sample_id')]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format='%.17g')
    return buffer.getvalue().encode()


def read_per_image(record: dict, json_path: str):
    """The per-image table of a run as a pandas DataFrame; refuses a file whose sha256
    differs from the one the record holds."""
    import pandas as pd
    info = record.get('per_image')
    if not info:
        raise FileNotFoundError(f'{json_path} has no per-image results (written by an older '
                                'crbench); re-run tools/test.py')
    path = osp.join(osp.dirname(json_path), info['path'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'per-image file {path!r} of {json_path} is missing')
    if file_sha256(path) != info['sha256']:
        raise ValueError(f'per-image file {path!r} does not match the sha256 recorded in '
                         f'{json_path}: it was changed after the run')
    return pd.read_csv(path, dtype={'sample_id': str})


def write_test_result(record: dict, results_dir: str, per_image: Optional[List[dict]] = None,
                      config_text: Optional[str] = None) -> str:
    """Write the per-image CSV and the config copy beside the JSON, then the JSON
    (atomically, last, holding their sha256). Returns the JSON path."""
    name = f"{record['model']}_{record['dataset']}_{record['protocol']}_{record['run_id']}.json"
    path = osp.join(results_dir, name.replace('/', '-'))
    if per_image is not None:
        data = per_image_csv(per_image)
        csv_path = _side_path(path, '.per_image.csv')
        atomic_write_bytes(csv_path, data)
        record['per_image'] = dict(path=osp.basename(csv_path),
                                   sha256=hashlib.sha256(data).hexdigest(),
                                   n_rows=len(per_image))
    if config_text is not None:
        data = config_text.encode()
        cfg_path = _side_path(path, '.config.py')
        atomic_write_bytes(cfg_path, data)
        record.setdefault('provenance', {})['config'] = dict(
            path=osp.basename(cfg_path), sha256=hashlib.sha256(data).hexdigest())
    atomic_write_bytes(path, (json.dumps(record, indent=2, sort_keys=True) + '\n').encode())
    return path


def record_test_run(*, cfg, config: str, checkpoint: str, cfg_options: Optional[dict],
                    metric, metrics: dict, dataset, results_dir: str,
                    allow_incomplete: bool = False, weights_meta: Optional[dict] = None) -> str:
    """Build and write the result of ``tools/test.py`` (JSON, per-image CSV, config copy).

    ``metric`` is the ``CRMetric`` that scored the run (its ``per_image`` rows and
    protocol), ``dataset`` the built test dataset (its ``skipped`` samples),
    ``weights_meta`` what ``crbench.engine.checkpoint.load_weights`` returned for the
    checkpoint (read from the file again when not given).
    """
    from crbench.evaluation.statistics import (CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED,
                                               metrics_ci)
    meta = checkpoint_meta(checkpoint) if weights_meta is None else weights_meta
    reasons = variant_reasons(config, cfg, cfg_options, meta)
    skipped = list(getattr(dataset, 'skipped', []))
    provenance = dict(
        cfg_options=_plain(dict(cfg_options or {})),
        variant=bool(reasons), variant_reasons=reasons,
        dataset_fingerprint=dataset_fingerprint(dataset),
        skipped=dict(n=len(skipped), ids=[s['sample_id'] for s in skipped],
                     reasons={s['sample_id']: s['reason'] for s in skipped}),
        checkpoint=checkpoint_provenance(meta))
    dataset_cfg = cfg.test_dataloader.dataset
    record = build_record(
        model=cfg.model_name, model_display=cfg.get('model_display'), config=config,
        dataset=dataset_cfg.get('dataset_name', dataset.DATASET_NAME), split=dataset.split,
        protocol=metric.protocol.name, metrics=metrics,
        n_images=metrics.get('n_images', len(dataset)), checkpoint=checkpoint,
        synthetic=dataset.synthetic, unavailable_metrics=getattr(metric, 'unavailable', []),
        extra=dict(data_root=dataset.data_root), provenance=provenance)
    record['incomplete'] = bool(skipped)
    if skipped and not allow_incomplete:
        raise ValueError('an incomplete test split is recorded only with allow_incomplete')
    rows = list(getattr(metric, 'per_image', []) or [])
    # the reported metrics only: the rows' descriptive fields (sample_id, ...) are not among them
    record['metrics_ci95'] = metrics_ci(rows, record['metrics'])
    record['ci'] = dict(method='percentile bootstrap over images', confidence=CONFIDENCE,
                        n_resamples=DEFAULT_RESAMPLES, seed=DEFAULT_SEED)
    try:
        config_text = cfg.pretty_text
    except Exception:  # noqa: BLE001 - yapf cannot format every config; the plain dump is exact too
        config_text = repr(cfg.to_dict())
    return write_test_result(record, results_dir, rows, config_text)
