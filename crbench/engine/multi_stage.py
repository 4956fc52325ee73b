"""Multi-stage training: several MMEngine Runner runs in a row, in one command.

DE (Sui et al., TGRS 2024, Sec. IV-D) trains in three stages: pure diffusion
on 64×64 images, then the WA network with the CNP locked, then both jointly on
256×256 images. crbench expresses this as one config with a ``stages`` list;
``tools/train.py`` calls :func:`train_stages` when the key is present::

    stages = [
        dict(name='stage1_diffusion',
             cfg_options=dict(model=dict(stage=1, fusion='none'),
                              train_dataloader=dict(batch_size=64, ...),
                              train_cfg=dict(max_iters=50000))),
        dict(name='stage2_wa', cfg_options=dict(model=dict(stage=2)),
             new_keys=('weight_net.', )),
        dict(name='stage3_joint', cfg_options=dict(model=dict(stage=3))),
    ]
    only_stage = None   # or 2, or 'stage2_wa': run that stage alone

Each stage is the top-level config with the stage's ``cfg_options`` merged in
(nested dicts, or dotted keys as on the command line; every key must exist in
the config, as for ``--cfg-options``). It runs with its own ``Runner`` in
``<work_dir>/<name>/``.

Stage entries:

``name`` (required)
    folder name of the stage (letters, digits, ``_ - .``), unique.
``cfg_options``
    the stage's overrides.
``train_pipeline``
    the name of a top-level config key holding this stage's training
    pipeline (e.g. ``'train_pipeline_64'``); it becomes the stage's
    ``train_dataloader.dataset.pipeline``. One ``stages`` list then serves
    every dataset whose config defines pipelines under those names.
``load_from``
    where the stage starts: ``'previous'`` (the default for every stage but
    the first) is the final checkpoint of the stage before it in the list;
    ``None`` (the default of the first stage, unless the config sets a
    top-level ``load_from``) starts from the model's initialisation; a path
    starts from that file.
``start_weights``
    ``'raw'`` (default) or ``'ema'``: which weights of the starting checkpoint
    the stage trains on. With MMEngine's ``EMAHook`` a checkpoint's
    ``state_dict`` holds the EMA weights and ``ema_state_dict`` the raw
    (optimised) ones; ``'raw'`` continues the optimisation from the raw
    weights (the EMA of the new stage restarts from them: MMEngine's EMA copies
    the model at its first update), ``'ema'`` starts from the EMA weights.
    A checkpoint without ``ema_state_dict`` has only one set.
``new_keys``
    state-dict key prefixes that are new in this stage (DE stage 2:
    ``('weight_net.',)``). Keys under them may be absent from the starting
    checkpoint; they keep their initialisation and are listed in the stage's
    log. Any other missing key, any checkpoint key the model lacks (unless
    under ``dropped_keys``) and any shape mismatch is an error: the load is
    strict everywhere else.
``dropped_keys``
    checkpoint key prefixes the stage's model no longer has.

Resuming, at and within stages:

* after its final checkpoint is saved, a stage writes ``STAGE_COMPLETE``
  (JSON, written atomically: final checkpoint, iteration, starting
  checkpoint) into its folder; a rerun skips every complete stage. A marker
  whose iteration is below the stage's current ``max_iters`` (the schedule
  was lengthened) makes the stage continue from its last checkpoint;
* a stage folder with checkpoints but no marker (the run was killed)
  resumes from its latest checkpoint (``resume=True``), optimizer, EMA and
  iteration included;
* ``only_stage`` (config key, or ``--cfg-options only_stage=2``; a top-level
  ``stage`` key is read the same way) runs one stage, 1-based index or name.
  A stage that starts from ``'previous'`` then needs the previous stage to
  be complete.

``--resume`` (auto) is accepted and changes nothing, since stages always
resume; ``--resume PATH`` is refused (which stage would it belong to?).
"""
import copy
import itertools
import json
import os
import os.path as osp
import re
import time
from typing import Dict, List, Optional

from mmengine.hooks import Hook

from crbench.registry import HOOKS

MARKER = 'STAGE_COMPLETE'
_NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
_CONTROL_KEYS = ('stages', 'only_stage', 'stage')
START_WEIGHTS = ('raw', 'ema')


class StageError(RuntimeError):
    """A multi-stage config or work directory is inconsistent."""


# ---- config ------------------------------------------------------------------
def parse_stages(cfg) -> List[dict]:
    """Validate ``cfg.stages`` and fill each stage's defaults."""
    raw = cfg.get('stages')
    if not isinstance(raw, (list, tuple)) or not raw:
        raise StageError(f'`stages` must be a non-empty list of dict(name=..., '
                         f'cfg_options=...), got {raw!r}')
    stages, seen = [], set()
    known = {'name', 'cfg_options', 'train_pipeline', 'load_from', 'start_weights', 'new_keys',
             'dropped_keys'}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise StageError(f'stages[{i}] must be a dict, got {type(entry).__name__}')
        unknown = sorted(set(entry) - known)
        if unknown:
            raise StageError(f'stages[{i}] has unknown keys {unknown}; allowed: {sorted(known)}')
        name = entry.get('name')
        if not isinstance(name, str) or not _NAME_RE.match(name) or name in ('.', '..'):
            raise StageError(f'stages[{i}] needs a folder-safe `name` (letters, digits, '
                             f'"_", "-", "."), got {name!r}')
        if name in seen:
            raise StageError(f'stage name {name!r} is used twice')
        seen.add(name)
        options = entry.get('cfg_options') or {}
        if not isinstance(options, dict):
            raise StageError(f'stages[{i}] ({name}): cfg_options must be a dict')
        pipeline = entry.get('train_pipeline')
        if pipeline is not None and (not isinstance(pipeline, str)
                                     or not isinstance(cfg.get(pipeline), (list, tuple))):
            raise StageError(f'stages[{i}] ({name}): train_pipeline={pipeline!r} must name a '
                             'top-level config key holding a list of transforms')
        default_start = 'previous' if i else cfg.get('load_from')
        start = entry.get('load_from', default_start)
        if i == 0 and start == 'previous':
            raise StageError(f"the first stage ({name}) has no previous stage to load from")
        weights = entry.get('start_weights', 'raw')
        if weights not in START_WEIGHTS:
            raise StageError(f'stages[{i}] ({name}): start_weights must be one of '
                             f'{START_WEIGHTS}, got {weights!r}')
        stages.append(dict(index=i + 1, name=name, cfg_options=_to_dict(options),
                           train_pipeline=pipeline,
                           load_from=start, start_weights=weights,
                           new_keys=_prefixes(entry.get('new_keys'), name, 'new_keys'),
                           dropped_keys=_prefixes(entry.get('dropped_keys'), name,
                                                  'dropped_keys')))
    return stages


def _prefixes(value, name: str, key: str) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value, )
    if not all(isinstance(v, str) and v for v in value):
        raise StageError(f'stage {name}: {key} must be a list of key prefixes, got {value!r}')
    return tuple(value)


def _to_dict(value):
    """ConfigDicts and lists of them to plain containers (deep copy)."""
    if isinstance(value, dict):
        return {k: _to_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_dict(v) for v in value)
    return value


def _dotted_leaves(options: dict, prefix: str = '') -> Dict[str, object]:
    """``{'model': {'stage': 1}}`` -> ``{'model.stage': 1}``; a dict with a
    ``type`` (a new object) or ``_delete_`` is a leaf, as are lists."""
    leaves = {}
    for key, value in options.items():
        dotted = f'{prefix}{key}'
        if isinstance(value, dict) and value and 'type' not in value and '_delete_' not in value:
            leaves.update(_dotted_leaves(value, dotted + '.'))
        else:
            leaves[dotted] = value
    return leaves


def only_stage(cfg):
    """The stage the config's ``only_stage`` (or its short form ``stage``) names; None: all."""
    only = cfg.get('only_stage')
    return cfg.get('stage') if only is None else only


def select_stages(stages: List[dict], only) -> List[dict]:
    """All stages, or the one named by ``only`` (1-based index or name)."""
    if only is None:
        return stages
    names = [s['name'] for s in stages]
    if isinstance(only, bool):
        raise StageError(f'only_stage must be a stage index (1..{len(stages)}) or name, '
                         f'got {only!r}')
    if isinstance(only, str) and only.isdigit():
        only = int(only)
    if isinstance(only, int):
        if not 1 <= only <= len(stages):
            raise StageError(f'only_stage={only}: the config has stages 1..{len(stages)} '
                             f'({names})')
        return [stages[only - 1]]
    if only in names:
        return [stages[names.index(only)]]
    raise StageError(f'only_stage={only!r} is neither an index 1..{len(stages)} nor one of '
                     f'the stage names {names}')


def stage_config(cfg, stage: dict):
    """The config of one stage: ``cfg`` with the stage's overrides, own work dir."""
    from crbench.apis import ConfigError, check_override_keys
    stage_cfg = copy.deepcopy(cfg)  # Config.copy() is shallow: merging would edit cfg
    for key in _CONTROL_KEYS:
        if key in stage_cfg:
            stage_cfg.pop(key)
    options = _dotted_leaves(stage['cfg_options'])
    if stage.get('train_pipeline'):
        if 'train_dataloader.dataset.pipeline' in options:
            raise StageError(f'stage {stage["name"]}: give the training pipeline either as '
                             'train_pipeline or in cfg_options, not both')
        options['train_dataloader.dataset.pipeline'] = _to_dict(cfg[stage['train_pipeline']])
    try:
        check_override_keys(stage_cfg, options)
    except ConfigError as err:
        raise StageError(f'stage {stage["name"]}: cfg_options: {err}') from None
    stage_cfg.merge_from_dict(options)
    stage_cfg.work_dir = osp.join(cfg.work_dir, stage['name'])
    stage_cfg.load_from = None
    stage_cfg.resume = False
    return stage_cfg


def _max_iters(stage_cfg) -> Optional[int]:
    """The stage's iteration budget; ``None`` (epoch-based loop): any marker means done."""
    train_cfg = stage_cfg.get('train_cfg') or {}
    return int(train_cfg['max_iters']) if 'max_iters' in train_cfg else None


# ---- work directory --------------------------------------------------------------
def read_marker(stage_dir: str) -> Optional[dict]:
    path = osp.join(stage_dir, MARKER)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            marker = json.load(f)
    except (OSError, ValueError) as err:
        raise StageError(f'{path} is unreadable ({err}); delete it to retrain the stage') from None
    if not isinstance(marker, dict) or 'checkpoint' not in marker:
        raise StageError(f'{path} does not name the final checkpoint; delete it to retrain '
                         'the stage')
    return marker


def marker_checkpoint(stage_dir: str, marker: dict) -> str:
    """The final checkpoint a marker names (relative to the stage folder)."""
    path = osp.join(stage_dir, marker['checkpoint'])
    if not osp.isfile(path):
        raise StageError(f'{osp.join(stage_dir, MARKER)} names the final checkpoint {path}, '
                         'which does not exist; delete the marker to retrain the stage')
    return path


def latest_checkpoint(stage_dir: str) -> Optional[str]:
    """The checkpoint MMEngine's ``last_checkpoint`` file names, if it exists.

    The file holds an absolute path; the file of that name inside
    ``stage_dir`` is preferred, so a copied or moved work directory resumes
    from its own checkpoints."""
    pointer = osp.join(stage_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        recorded = f.read().strip()
    if not recorded:
        return None
    for path in (osp.join(stage_dir, osp.basename(recorded)), recorded):
        if osp.isfile(path):
            return path
    return None


def _sidecar_digest(path: Optional[str]) -> Optional[str]:
    from .compat import SIDECAR_SUFFIX
    if not path or not osp.isfile(path + SIDECAR_SUFFIX):
        return None
    with open(path + SIDECAR_SUFFIX) as f:
        return f.read().strip() or None


def write_marker(stage_dir: str, info: dict) -> None:
    from .compat import atomic_write_bytes
    atomic_write_bytes(osp.join(stage_dir, MARKER),
                       (json.dumps(info, indent=2, sort_keys=True) + '\n').encode())


# ---- starting weights -----------------------------------------------------------------
def start_state(checkpoint: dict, weights: str = 'raw') -> dict:
    """The state dict a stage starts from (see ``start_weights``)."""
    ema = checkpoint.get('ema_state_dict')
    if weights == 'raw' and isinstance(ema, dict):
        # EMAHook swapped the two sets on saving: the raw weights sit under 'module.<key>'.
        return {k[len('module.'):]: v for k, v in ema.items() if k.startswith('module.')}
    return checkpoint['state_dict']


@HOOKS.register_module()
class StageStartHook(Hook):
    """Make a new stage load the previous stage's ``start_weights``.

    Added by :func:`train_stages` to a stage that starts from a checkpoint
    (never to a resumed one). It runs before ``EMAHook`` and before the
    Runner copies the checkpoint into the model: it puts the selected weights
    under ``state_dict`` and drops ``ema_state_dict``, so the model and the
    EMA start from the same weights.
    """

    priority = 'VERY_HIGH'

    def __init__(self, weights: str = 'raw'):
        if weights not in START_WEIGHTS:
            raise ValueError(f'weights must be one of {START_WEIGHTS}, got {weights!r}')
        self.weights = weights

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['state_dict'] = start_state(checkpoint, self.weights)
        checkpoint.pop('ema_state_dict', None)


# ---- checkpoint key check ---------------------------------------------------------
def check_start_keys(model, checkpoint_path: str, stage: dict) -> List[str]:
    """Compare the model's state dict with the starting checkpoint's.

    Returns the missing keys allowed by ``new_keys`` (sorted); raises
    :class:`StageError` for any other difference.
    """
    from mmengine.model import is_model_wrapper
    from .compat import load_checkpoint_file
    if is_model_wrapper(model):
        model = model.module
    checkpoint = load_checkpoint_file(checkpoint_path, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise StageError(f'{checkpoint_path} holds no state dict')
    if 'state_dict' not in checkpoint:
        checkpoint = {'state_dict': checkpoint}
    state = start_state(checkpoint, stage['start_weights'])
    state = {(k[len('module.'):] if k.startswith('module.') else k): v
             for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    new = [k for k in missing if k.startswith(stage['new_keys'])] if stage['new_keys'] else []
    bad_missing = [k for k in missing if k not in set(new)]
    bad_unexpected = [k for k in unexpected
                      if not (stage['dropped_keys'] and k.startswith(stage['dropped_keys']))]
    mismatched = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
                  for k in sorted(set(own) & set(state))
                  if hasattr(state[k], 'shape') and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if bad_missing:
        problems.append(f'{len(bad_missing)} model keys are missing from the checkpoint '
                        f'(first: {bad_missing[:5]}); if they are new in this stage, list '
                        "their prefix in the stage's new_keys")
    if bad_unexpected:
        problems.append(f'{len(bad_unexpected)} checkpoint keys do not exist in the model '
                        f'(first: {bad_unexpected[:5]}); if this stage drops them, list '
                        "their prefix in the stage's dropped_keys")
    if mismatched:
        problems.append(f'{len(mismatched)} shapes differ (first: {mismatched[:3]})')
    if problems:
        raise StageError(f'stage {stage["name"]} cannot start from {checkpoint_path}: '
                         + '; '.join(problems) + ". Check the stage's cfg_options against "
                         'those of the stage that wrote the checkpoint.')
    return new


# ---- driver -------------------------------------------------------------------------
_RUN_COUNTER = itertools.count(1)


def _experiment_name(cfg, stage_name: str) -> str:
    """A per-stage MMEngine experiment name, unique in this process.

    MMEngine keys its logger, message hub and visualizer by experiment name
    (the Runner appends a timestamp); two stages sharing one within a second
    would write into the first stage's log file. The counter advances the
    same way on every rank."""
    stem = osp.splitext(osp.basename(cfg.filename))[0] if cfg.filename else 'crbench'
    return f'{stem}_{stage_name}_run{next(_RUN_COUNTER)}'


def _log(msg: str, level=None) -> None:
    import logging
    from mmengine.logging import print_log
    print_log(f'[multi-stage] {msg}', logger='current', level=level or logging.INFO)


def _start_checkpoint(stages: List[dict], stage: dict, work_dir: str,
                      required: bool = True) -> Optional[str]:
    """The checkpoint a stage starts from (``None``: the initialisation)."""
    if stage['load_from'] != 'previous':
        return stage['load_from']
    prev = stages[stage['index'] - 2]
    prev_dir = osp.join(work_dir, prev['name'])
    marker = read_marker(prev_dir)
    if marker is None:
        if not required:
            return None
        raise StageError(
            f'stage {stage["index"]} ({stage["name"]}) starts from the final checkpoint of '
            f'stage {prev["index"]} ({prev["name"]}), but {prev_dir} has no {MARKER} marker: '
            f'that stage has not finished. Run it first (--cfg-options only_stage='
            f'{prev["index"]}) or run all stages (no only_stage).')
    return marker_checkpoint(prev_dir, marker)


def check_reference_priors(cfg) -> None:
    """Before any training: every model this run builds that needs a trained
    reference prior (DE with fusion other than ``'none'``) finds its checkpoint.

    A multi-stage config is checked stage by stage (the stages ``only_stage``
    selects), so a DE run whose prior is untrained stops at once instead of
    after a whole first stage. Raises ``ReferenceCheckpointNotFound`` (a
    ``FileNotFoundError``) naming the stage and the command that trains the prior.
    """
    from crbench.models.diffusion.frozen_reference import (ReferenceCheckpointNotFound,
                                                           check_reference_checkpoint)
    if not cfg.get('stages'):
        check_reference_checkpoint(cfg.get('model'))
        return
    try:
        stage_cfgs = [(stage, stage_config(cfg, stage))
                      for stage in select_stages(parse_stages(cfg), only_stage(cfg))]
    except StageError:
        return  # an inconsistent stage list: train_stages reports it
    for stage, stage_cfg in stage_cfgs:
        try:
            check_reference_checkpoint(stage_cfg.get('model'))
        except ReferenceCheckpointNotFound as err:
            raise ReferenceCheckpointNotFound(
                f'stage {stage["index"]} ({stage["name"]}): {err}') from None


def _short_key_list(keys: List[str], shown: int = 3) -> str:
    """``'a, b, c and 241 more'``: a key list a user can read in one line."""
    head = ', '.join(keys[:shown])
    return head if len(keys) <= shown else f'{head} and {len(keys) - shown} more'


def train_stages(cfg) -> Dict[str, str]:
    """Run the stages of ``cfg`` (see the module docstring) and return the
    final checkpoint of each stage that ran or was already complete."""
    import logging
    from mmengine.dist import barrier, is_main_process
    from crbench.engine.runner import Runner  # console without the config dump

    stages = parse_stages(cfg)
    if cfg.get('resume') and cfg.get('load_from'):
        raise StageError(
            f'--resume {cfg.load_from}: a multi-stage config resumes each stage from its own '
            f'folder under {cfg.work_dir}; run without a checkpoint path (interrupted stages '
            'resume automatically, complete ones are skipped).')
    if cfg.get('work_dir') is None:
        raise StageError('multi-stage training needs cfg.work_dir (tools/train.py sets it)')
    selected = select_stages(stages, only_stage(cfg))
    try:
        check_reference_priors(cfg)
    except FileNotFoundError as err:
        raise StageError(str(err)) from None
    finals: Dict[str, str] = {}

    for stage in selected:
        name, index = stage['name'], stage['index']
        stage_cfg = stage_config(cfg, stage)
        stage_dir = stage_cfg.work_dir
        max_iters = _max_iters(stage_cfg)
        title = f'stage {index}/{len(stages)} ({name})'

        marker = read_marker(stage_dir)
        if marker is not None:
            done = marker.get('iter')
            if max_iters is None or done is None or done >= max_iters:
                if max_iters is not None and done is not None and done > max_iters:
                    _log(f'{title}: complete at iteration {done}, more than the configured '
                         f'max_iters={max_iters}; keeping it', logging.WARNING)
                recorded = marker.get('started_from_sha256')
                current = _sidecar_digest(_start_checkpoint(stages, stage, cfg.work_dir,
                                                            required=False))
                if recorded and current and recorded != current:
                    _log(f'{title}: it was trained from a different version of the checkpoint '
                         f'it starts from ({marker.get("started_from")}); delete {stage_dir} '
                         'to retrain it from the current one',
                         logging.WARNING)
                finals[name] = marker_checkpoint(stage_dir, marker)
                _log(f'{title}: already complete ({osp.join(stage_dir, MARKER)}), skipped; '
                     f'final checkpoint {finals[name]}')
                continue
            _log(f'{title}: completed at iteration {done} but max_iters is now {max_iters}; '
                 'continuing from its last checkpoint')
            if is_main_process():
                os.remove(osp.join(stage_dir, MARKER))
            barrier()

        latest = latest_checkpoint(stage_dir)
        start = _start_checkpoint(stages, stage, cfg.work_dir, required=latest is None)
        if latest is not None:
            stage_cfg.load_from, stage_cfg.resume = latest, True
            _log(f'{title}: resuming from {latest}')
        elif start is not None:
            stage_cfg.load_from = start
            stage_cfg.custom_hooks = list(stage_cfg.get('custom_hooks') or []) + [
                dict(type='StageStartHook', weights=stage['start_weights'])]
            _log(f'{title}: starting from the {stage["start_weights"]} weights of {start}')
        else:
            _log(f'{title}: starting from the initialisation')

        stage_cfg.experiment_name = _experiment_name(cfg, name)
        if isinstance(stage_cfg.get('visualizer'), dict):
            # MMEngine's Visualizer is a per-name singleton: under the config's fixed name
            # the next stage would get this stage's instance, writing into its folder.
            stage_cfg.visualizer.name = stage_cfg.experiment_name
        runner = Runner.from_cfg(stage_cfg)
        if latest is None and start is not None:
            new = check_start_keys(runner.model, start, stage)
            if new:
                runner.logger.warning(
                    f'{title}: {len(new)} weights under {list(stage["new_keys"])} are new in '
                    f'this stage and keep their initialisation (loaded non-strictly from '
                    f'{osp.basename(start)}): {_short_key_list(new)}')
            else:
                runner.logger.info(f'{title}: every key of the model is in {start}')
        runner.train()

        if max_iters is not None and runner.iter < max_iters:
            raise StageError(f'{title} stopped at iteration {runner.iter} of {max_iters}; '
                             'no completion marker written')
        final = latest_checkpoint(stage_dir)
        if final is None:
            raise StageError(f'{title} finished but {stage_dir} has no final checkpoint '
                             '(keep default_hooks.checkpoint.save_last=True)')
        if is_main_process():
            write_marker(stage_dir, dict(
                stage=name, index=index, checkpoint=osp.basename(final), iter=runner.iter,
                max_iters=max_iters, epoch=runner.epoch, started_from=start,
                started_from_sha256=_sidecar_digest(start),
                finished=time.strftime('%Y-%m-%dT%H:%M:%S')))
        barrier()
        finals[name] = final
        _log(f'{title}: complete; final checkpoint {final}')
        _close_log_files(runner)
        del runner
    return finals


def _close_log_files(runner) -> None:
    """Close the stage's log file handlers (MMEngine keeps loggers per experiment)."""
    import logging
    for handler in list(runner.logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            runner.logger.removeHandler(handler)


__all__ = ['MARKER', 'StageError', 'StageStartHook', 'check_reference_priors',
           'check_start_keys', 'latest_checkpoint',
           'parse_stages', 'read_marker', 'select_stages', 'stage_config', 'start_state',
           'train_stages']
