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

Every MMEngine root registry has a crbench child, also the kinds crbench adds
nothing to (optimizers, schedulers, loops, ...): with ``default_scope='crbench'``
the Runner looks each kind up in the crbench scope first, and a missing child
makes it warn ("Failed to search registry with scope "crbench" ...") before it
falls back to MMEngine's own.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
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

# Kinds crbench only takes from MMEngine (or a plugin adds to).
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope='crbench')
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS,
                               scope='crbench')
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='crbench')
STRATEGIES = Registry('strategy', parent=MMENGINE_STRATEGIES, scope='crbench')
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               scope='crbench')
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='crbench')
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='crbench')
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='crbench')
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='crbench')
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='crbench')
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='crbench')
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='crbench')
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope='crbench')
INFERENCERS = Registry('inferencer', parent=MMENGINE_INFERENCERS, scope='crbench')
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope='crbench')
