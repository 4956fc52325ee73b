"""What tools/train.py and tools/test.py share: config preparation and checks."""
import difflib
import inspect
import os.path as osp
from typing import Iterable, Optional

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for tools)

from crbench.registry import DATASETS, DIFFUSION_SAMPLERS, METRICS, MODELS, TRANSFORMS

DATALOADER_KEYS = {'train': 'train_dataloader', 'val': 'val_dataloader',
                   'test': 'test_dataloader'}


class ConfigError(ValueError):
    """A config names a key or a registered type that does not exist."""


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3)
    return f' Did you mean {close}?' if close else ''


def check_override_keys(cfg: Config, options: Optional[dict]) -> None:
    """Refuse ``--cfg-options`` keys that the config or the class they configure lacks.

    MMEngine would silently add a misspelt key (``optim_wraper.lr=...``) and
    train with the default, or fail much later (``train_cfg.max_iter=10`` in the
    loop's constructor after the config dump; ``default_hooks.checkpoint.intervl=1``
    at the first save). A key that is new inside a typed node (a dict with
    ``type``) must be a parameter of the registered class's constructor
    (:func:`constructor_parameters`). ``a.b._delete_=True`` (MMEngine: replace the
    dict instead of merging into it) is understood: the overrides below ``a.b`` then
    make the whole node. Errors name the key and suggest the nearest valid ones.
    """
    options = options or {}
    replaced = {dotted[:-len('._delete_')] for dotted, value in options.items()
                if dotted.endswith('._delete_') and value}
    for dotted in options:
        node, path = cfg._cfg_dict, []
        owner = next((r for r in replaced if dotted.startswith(r + '.')), None)
        if owner is not None:
            _check_replaced_node(cfg, owner, dotted, options)
            continue
        for part in dotted.split('.'):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, dict) and 'type' in node and path:
                # a type replaced by the same overrides decides the arguments
                type_name = options.get('.'.join(path + ['type']), node.get('type'))
                _check_new_argument(type_name, path, part, dotted)
                break
            else:
                keys = sorted(node.keys()) if isinstance(node, dict) else []
                where = '.'.join(path) or '<top level>'
                raise ConfigError(f'unknown config key {dotted!r}: {where!r} has no {part!r}.'
                                  f'{_suggest(part, keys)} Valid keys there: {keys}')
            path.append(part)
        if path and path[-1] == 'type' and len(path) > 1 and isinstance(node, str):
            _check_replaced_type(cfg, path[:-1], options[dotted], dotted)


def _check_replaced_type(cfg: Config, path: list, type_name, dotted: str) -> None:
    """``--cfg-options a.b.type=New`` keeps the other keys of ``a.b``: New must take them."""
    node = cfg._cfg_dict
    for part in path:
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    where = '.'.join(path)
    for key in node:
        if key != 'type':
            try:
                _check_new_argument(type_name, path, key, dotted)
            except ConfigError as err:
                raise ConfigError(f'{err} The other keys of {where!r} stay when only its type '
                                  f'changes; to replace the whole dict, add '
                                  f'{where}._delete_=True (then give every key it needs).'
                                  ) from None


def _check_replaced_node(cfg: Config, where: str, dotted: str, options: dict) -> None:
    """``a.b._delete_=True``: MMEngine replaces ``a.b`` by the overrides below it, so those
    must name the new type and be its arguments; the old keys do not matter."""
    path = where.split('.')
    node = cfg._cfg_dict
    for part in path:
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise ConfigError(f'{where}._delete_=True: {where!r} is not a dict of the config, '
                          'so there is nothing to replace')
    type_name = options.get(f'{where}.type')
    if 'type' in node and type_name is None:
        raise ConfigError(f'{where}._delete_=True replaces {where!r}, which needs a type: add '
                          f'{where}.type=... (it was {node["type"]!r})')
    key = dotted[len(where) + 1:].split('.')[0]  # the argument a deeper key belongs to
    if key not in ('_delete_', 'type') and 'type' in node:
        _check_new_argument(type_name, path, key, dotted)


# Keys a builder consumes before calling the constructor, per registry name.
_BUILDER_KEYS = {
    'hook': {'priority'},
    'optim_wrapper': {'constructor', 'paramwise_cfg'},
    'parameter scheduler': {'convert_to_iter_based'},
}


def _override_registries(path: list) -> list:
    """Registries a typed node at ``path`` (list of keys from the top) is built from."""
    import mmengine.registry as mm
    from crbench import registry as cr
    root, last = str(path[0]), str(path[-1])
    if root == 'model':
        return [cr.MODELS, cr.DIFFUSION_SAMPLERS]
    if root.endswith('_dataloader'):
        if 'pipeline' in path:
            return [cr.TRANSFORMS]
        if last == 'sampler' or last == 'batch_sampler':
            return [cr.DATA_SAMPLERS]
        return [cr.DATASETS]
    if root.endswith('_evaluator'):
        return [cr.METRICS, mm.EVALUATOR]
    if root in ('default_hooks', 'custom_hooks'):
        return [cr.HOOKS]
    if root == 'optim_wrapper':
        return [mm.OPTIMIZERS] if last == 'optimizer' else [mm.OPTIM_WRAPPERS]
    if root == 'param_scheduler':
        return [mm.PARAM_SCHEDULERS]
    if root in ('train_cfg', 'val_cfg', 'test_cfg'):
        return [mm.LOOPS]
    if root == 'visualizer':
        return [mm.VISBACKENDS] if 'vis_backends' in path else [cr.VISUALIZERS]
    if root == 'log_processor':
        return [mm.LOG_PROCESSORS]
    return []


def _registered_class(type_name, registries):
    if not isinstance(type_name, str):
        return type_name if callable(type_name) else None
    import mmengine.hooks  # noqa: F401  (register MMEngine's hooks, loops, optimizers)
    import mmengine.optim  # noqa: F401
    import mmengine.runner  # noqa: F401
    from crbench.setup_env import register_all_modules
    register_all_modules()
    for registry in registries:
        obj = registry.get(type_name)
        if obj is not None:
            return obj
    return None


def constructor_parameters(obj) -> tuple:
    """``(names, open_)``: the keyword parameters ``obj(...)`` accepts.

    Follows ``**kwargs`` up the class hierarchy while each constructor passes
    them on. ``open_`` is True when ``**kwargs`` end somewhere that cannot be
    read (stored for later use, as MMEngine's ``CheckpointHook`` does); then only
    names close to a known parameter are treated as misspellings.
    """
    import torch
    functions = [obj] if not isinstance(obj, type) else [
        klass.__dict__['__init__'] for klass in obj.__mro__
        if '__init__' in klass.__dict__ and klass not in (object, torch.nn.Module)]
    names = []
    for function in functions:
        try:
            params = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return names, True
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name != 'self']
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names, False
    # **kwargs reached nn.Module (which refuses unknown names) or were kept for
    # later use (then they cannot be checked here)
    return names, not (isinstance(obj, type) and issubclass(obj, torch.nn.Module))


def _check_new_argument(type_name, path: list, name: str, dotted: str) -> None:
    """``name`` is not in the typed node at ``path`` yet: it must be an argument of the
    constructor of ``type_name``."""
    registries = _override_registries(path)
    obj = _registered_class(type_name, registries)
    if obj is None:
        return  # not a class crbench can look up (check_registered_types reports unknown types)
    names, open_ = constructor_parameters(obj)
    registry_name = registries[0].name if registries else ''
    known = set(names) | {'type', '_scope_'} | _BUILDER_KEYS.get(registry_name, set())
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)
    if open_ and not close:
        return  # **kwargs may take it; nothing it could be a misspelling of
    where = '.'.join(path)
    type_name = getattr(obj, '__name__', str(type_name))
    hint = f' Did you mean {close}?' if close else ''
    raise ConfigError(f'unknown config key {dotted!r}: {type_name} ({where}) takes no argument '
                      f'{name!r}.{hint} Its arguments: {sorted(set(names))}')


def _check_type(cfg_node: dict, registry, where: str, *alternatives, extra=()) -> None:
    type_name = cfg_node.get('type')
    registries = (registry, ) + alternatives
    if type_name in extra:
        return
    if isinstance(type_name, str) and all(r.get(type_name) is None for r in registries):
        known = [name for r in registries for name in r.module_dict]
        known += list(registry.parent.module_dict) if registry.parent else []
        raise ConfigError(f'{where}: {type_name!r} is not registered in crbench\'s '
                          f'{registry.name} registry.{_suggest(type_name, known)} If it is '
                          'your own class, list its module in custom_imports.')


# Keys whose dicts carry a ``type`` that is a plain setting, not a registered class
# (HDiT's per-level attention: dict(type='neighborhood', kernel_size=7, ...)).
SETTING_KEYS = {'self_attns'}


def _typed_nodes(node, where: str):
    """Every dict with a ``type`` key inside a config subtree, with its path."""
    if isinstance(node, dict):
        if 'type' in node:
            yield where, node
        for key, value in node.items():
            if key not in SETTING_KEYS:
                yield from _typed_nodes(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _typed_nodes(value, f'{where}[{i}]')


def check_registered_types(cfg: Config) -> None:
    """Check the ``type`` of the model, datasets, transforms and evaluators."""
    from crbench.setup_env import register_all_modules
    register_all_modules()
    if 'model' in cfg:
        for where, node in _typed_nodes(cfg.model, 'model'):
            # Inside a model: networks, losses, preprocessors, diffusion samplers, and
            # the torch losses frameworks build by name.
            from crbench.models.restorers.gan import TORCH_LOSSES
            _check_type(node, MODELS, where, DIFFUSION_SAMPLERS, extra=TORCH_LOSSES)
    for split, key in DATALOADER_KEYS.items():
        loader = cfg.get(key)
        if not loader:
            continue
        _check_type(loader.dataset, DATASETS, f'{key}.dataset')
        for i, transform in enumerate(loader.dataset.get('pipeline', [])):
            _check_type(transform, TRANSFORMS, f'{key}.dataset.pipeline[{i}]')
    for key in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg.get(key)
        for i, metric in enumerate(evaluator if isinstance(evaluator, list) else [evaluator]):
            if isinstance(metric, dict):
                _check_type(metric, METRICS, key)


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataloader's dataset at ``data_root``."""
    for key in DATALOADER_KEYS.values():
        if cfg.get(key):
            cfg[key].dataset.data_root = data_root


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config and apply checked ``--cfg-options`` overrides (every tool's entry)."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config!r} does not exist; configs live under '
                                'configs/<model>/, e.g. configs/memorynet/memorynet_cuhkcr2.py')
    cfg = Config.fromfile(config)  # also imports the config's custom_imports
    check_override_keys(cfg, cfg_options)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def prepare_config(config: str, work_dir: Optional[str] = None,
                   data_root: Optional[str] = None, cfg_options: Optional[dict] = None,
                   amp: bool = False) -> Config:
    """Load a config, apply command-line overrides and fill the defaults."""
    cfg = load_config(config, cfg_options)
    if data_root is not None:
        set_data_root(cfg, data_root)
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    cfg.setdefault('model_name', osp.splitext(osp.basename(config))[0].split('_')[0])
    check_registered_types(cfg)
    return cfg


def check_data(cfg: Config, splits: Iterable[str]) -> dict:
    """Build the datasets of ``splits`` once, so a missing or broken copy fails
    before any model is built, with the dataset's own message (path + layout).
    Returns the built datasets by split."""
    from crbench.setup_env import register_all_modules
    register_all_modules()
    built = {}
    for split in splits:
        loader = cfg.get(DATALOADER_KEYS[split])
        if loader:
            try:
                built[split] = DATASETS.build(loader.dataset)
            except (ValueError, TypeError) as err:
                if isinstance(err, ConfigError):
                    raise
                # a bad dataset argument (split='vall', version=3, an unusable split file)
                raise ConfigError(f'{DATALOADER_KEYS[split]}.dataset: {err}') from None
    return built


from crbench.inference.api import init_model, restore  # noqa: E402,F401  (the Python API)
