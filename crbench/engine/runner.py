"""crbench's Runner: MMEngine's, with a console a user reads.

MMEngine prints the whole environment, the whole config and the hook order of
every run, and a few deprecation notices of its own, on the console: about a
thousand lines for a short demo. Here these go to the run's log file only
(``<work_dir>/<timestamp>/<timestamp>.log``, which keeps every line; the config
is also saved as ``<work_dir>/<config name>.py``), and the console says where.
Training progress, validation and test metrics, checkpoints and every other
warning still reach the console. ``CRBENCH_LOG_ALL=1`` prints everything.
"""
import logging
import os
import os.path as osp

from mmengine.runner import Runner as MMEngineRunner

# Records the console does not show (the log file does), matched by how they start.
FILE_ONLY_PREFIXES = (
    'Config:\n',
    '\n' + '-' * 60 + '\nSystem environment:',
    'Hooks will be executed in the following order',
    'Distributed training is not used, all SyncBatchNorm',
    'The prefix is not set in metric class',
    '"FileClient" will be deprecated',
    '"HardDiskBackend" is the alias of "LocalBackend"',
    '`save_param_scheduler` is True but `self.param_schedulers` is None',
)


class FileOnlyFilter(logging.Filter):
    """Keeps the records of :data:`FILE_ONLY_PREFIXES` off the handler it is added to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(FILE_ONLY_PREFIXES)


def quiet_console(logger: logging.Logger) -> None:
    """Add :class:`FileOnlyFilter` to the console handlers of ``logger`` (not its files)."""
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) or not isinstance(
                handler, logging.StreamHandler):
            continue
        if not any(isinstance(f, FileOnlyFilter) for f in handler.filters):
            handler.addFilter(FileOnlyFilter())


class Runner(MMEngineRunner):
    """``mmengine.runner.Runner`` whose console leaves out the config and environment dumps."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        if not os.environ.get('CRBENCH_LOG_ALL'):
            quiet_console(logger)
            log_file = log_file or osp.join(self.log_dir, f'{self.timestamp}.log')
            logger.info(f'Full config, environment and hook order: {log_file}')
        return logger
