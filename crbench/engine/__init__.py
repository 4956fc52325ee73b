from . import hooks, prediction_writer  # noqa: F401
from .ema import WarmupEMA  # noqa: F401  (EMAHook(ema_type='WarmupEMA'))
from .multi_stage import train_stages  # noqa: F401  (tools/train.py, configs with `stages`)
from .compat import (CPUCompatibleDDP, UntrustedCheckpointError, atomic_torch_save,
                     atomic_write_bytes,
                     file_sha256, init_cpu_distributed, is_trusted_checkpoint,
                     load_checkpoint_file, save_trusted_checkpoint)

__all__ = [
    'CPUCompatibleDDP', 'UntrustedCheckpointError', 'atomic_write_bytes', 'file_sha256',
    'init_cpu_distributed', 'is_trusted_checkpoint', 'load_checkpoint_file',
    'save_trusted_checkpoint'
]
from .fault_hooks import NonFiniteLossError, NonFiniteLossHook  # noqa: F401,E402
from .de_vis_hook import DEVisualizationHook  # noqa: F401,E402
from .checkpoint import (WeightsMismatchError, load_network_weights,  # noqa: F401,E402
                         load_weights, read_weights)
