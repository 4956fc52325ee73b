"""Import every registering module and make 'crbench' the default scope."""
import datetime
import importlib
import warnings

from mmengine import DefaultScope

PACKAGES = ('crbench.datasets', 'crbench.models', 'crbench.evaluation', 'crbench.samplers',
            'crbench.engine', 'crbench.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Populate crbench's registries; needed only outside an MMEngine Runner.

    The Runner does this itself through the registries' ``locations`` once a
    config sets ``default_scope='crbench'``. Scripts and tests that build
    datasets or models directly call this first.
    """
    for name in PACKAGES:
        importlib.import_module(name)
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'crbench':
        if current is not None:
            warnings.warn(f'default scope was {current.scope_name!r}; switching to crbench')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        DefaultScope.get_instance(f'crbench-{stamp}', scope_name='crbench')
