"""All crbench registries, in one place.

Each is a child of the MMEngine root of the same kind, so the MMEngine Runner
finds crbench classes when ``default_scope='crbench'`` and also falls back to
MMEngine's own (optimizers, hooks, samplers). ``locations`` lets the Runner
import the modules that register into a registry on first use.

A user's own baseline registers into the same objects from outside crbench::

    from crbench.registry import MODELS

    @MODELS.register_module()
    class MyNet(torch.nn.Module): ...

and the config lists the user's module in ``custom_imports``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='crbench',
                    locations=['crbench.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='crbench',
                      locations=['crbench.datasets.transforms'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         scope='crbench', locations=['crbench.datasets'])
MODELS = Registry('model', parent=MMENGINE_MODELS, scope='crbench',
                  locations=['crbench.models'])
MODEL_WRAPPERS = Registry('model wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          scope='crbench', locations=['crbench.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='crbench',
                   locations=['crbench.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='crbench',
                 locations=['crbench.engine'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       scope='crbench', locations=['crbench.visualization'])
# MMEngine has no notion of a diffusion sampler: a root registry of our own.
DIFFUSION_SAMPLERS = Registry('diffusion sampler', scope='crbench',
                              locations=['crbench.samplers'])
