"""crbench/registry.py: a crbench child for every MMEngine root registry."""
import logging

import mmengine.registry as mm_registry
from mmengine.logging import MMLogger

import crbench.registry as registry


def root_registries():
    return {name: obj for name, obj in vars(mm_registry).items()
            if isinstance(obj, mm_registry.Registry) and obj.parent is None and name.isupper()}


def test_every_mmengine_root_has_a_crbench_child():
    roots = root_registries()
    assert {'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS', 'LOOPS',
            'LOG_PROCESSORS', 'VISBACKENDS'} <= set(roots)
    for name, root in roots.items():
        child = getattr(registry, name, None)
        assert child is not None, f'crbench.registry has no {name}'
        assert child.parent is root and child.scope == 'crbench', name
        assert 'crbench' in root.children, name


def test_runner_kinds_resolve_without_the_fallback_warning(caplog):
    """Building an optimizer, a loop's scheduler etc. in the crbench scope finds MMEngine's
    class through the child, without 'Failed to search registry' (the demo printed it 9x)."""
    import torch
    from mmengine.registry import DefaultScope
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        with DefaultScope.overwrite_default_scope('crbench'):
            param = torch.nn.Parameter(torch.zeros(1))
            optimizer = registry.OPTIMIZERS.build(dict(type='Adam', params=[param], lr=1e-3))
            wrapper = registry.OPTIM_WRAPPERS.build(dict(type='OptimWrapper',
                                                         optimizer=optimizer))
            registry.PARAM_SCHEDULERS.build(dict(type='ConstantLR', optimizer=wrapper))
            assert registry.LOOPS.get('IterBasedTrainLoop') is not None
            assert registry.LOG_PROCESSORS.get('LogProcessor') is not None
            assert registry.VISBACKENDS.get('LocalVisBackend') is not None
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if 'Failed to search registry' in r.getMessage()]
