"""Hooks that keep long runs from silently going wrong."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from crbench.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Training stopped because a loss became NaN or infinite."""


def _format_terms(terms: Dict[str, float]) -> str:
    return ', '.join(f'{name}={value:.6g}' for name, value in terms.items()) or '(no terms)'


def _nonfinite_ranks(local_bad: bool) -> List[int]:
    """Ranks whose loss is not finite; a collective call when training is distributed,
    so that every rank takes the same decision (one rank skipping the backward
    while the others wait in DDP's gradient all-reduce would hang the job)."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [0] if local_bad else []
    world, rank = dist.get_world_size(), dist.get_rank()
    backend = dist.get_backend()
    device = torch.device('cuda', torch.cuda.current_device()) if backend == 'nccl' \
        else torch.device('cpu')
    flags = torch.zeros(world, dtype=torch.float32, device=device)
    flags[rank] = float(local_bad)
    dist.all_reduce(flags)
    return [r for r in range(world) if flags[r].item() > 0]


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop (or skip the update) when the training loss is NaN or infinite.

    How it works: before training, the hook wraps two bound methods on the
    live objects (and restores them after training):

    * the model's ``parse_losses`` (MMEngine's ``BaseModel`` API, which every
      crbench framework and MMEngine's DDP wrapper call to sum the loss terms)
      to remember this iteration's loss terms for the message;
    * ``update_params`` of the optimizer wrapper (of every wrapper of an
      ``OptimWrapperDict``, as GAN frameworks use), which gets the summed loss
      *before* ``backward``. There the loss is checked, and in distributed
      training all ranks agree through one tiny all-reduce, so they all stop or
      all skip together.

    Policies:

    * ``'stop'`` (default): raise :class:`NonFiniteLossError` before the update,
      with a message naming the iteration and every loss term's value. The
      weights are those of the previous iteration; the last checkpoint is
      intact, so training can be resumed with a lower learning rate.
    * ``'skip'``: do not run ``backward`` nor ``optimizer.step`` for that
      update, so weights *and* optimizer state (Adam moments, step count)
      stay exactly as they were; only the non-finite values are dropped from
      the logged losses and a warning names the iteration and terms. The
      parameter scheduler still advances (it counts iterations). With gradient
      accumulation the skipped micro-batch simply does not count. After
      ``max_consecutive_skips`` skipped updates in a row the hook stops anyway
      (a diverged model does not recover by skipping).

    Args:
        policy: ``'stop'`` or ``'skip'``.
        max_consecutive_skips: the limit of the ``'skip'`` policy (None: no limit).
    """

    priority = 'VERY_HIGH'

    def __init__(self, policy: str = 'stop', max_consecutive_skips: Optional[int] = 20):
        if policy not in ('stop', 'skip'):
            raise ValueError(f"NonFiniteLossHook policy must be 'stop' or 'skip', got {policy!r}")
        if max_consecutive_skips is not None and max_consecutive_skips < 1:
            raise ValueError('max_consecutive_skips must be >= 1 or None, got '
                             f'{max_consecutive_skips}')
        self.policy = policy
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped = 0            # skipped updates in this run
        self.consecutive = 0
        self._runner = None
        self._terms: Dict[str, float] = {}
        self._patched = []          # (object, attribute name)

    # ------------------------------------------------------------------ patching
    def before_train(self, runner) -> None:
        self._runner = runner
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'parse_losses'):
            raise TypeError(f'NonFiniteLossHook needs a model with parse_losses (an MMEngine '
                            f'BaseModel); got {type(model).__name__}')
        self._patch(model, 'parse_losses', self._wrap_parse_losses(model.parse_losses))
        wrappers = (list(runner.optim_wrapper.values())
                    if isinstance(runner.optim_wrapper, OptimWrapperDict)
                    else [runner.optim_wrapper])
        for wrapper in wrappers:
            self._patch(wrapper, 'update_params', self._wrap_update(wrapper.update_params))

    def after_train(self, runner) -> None:
        self._unpatch()

    def after_run(self, runner) -> None:
        self._unpatch()

    def _patch(self, obj, name: str, func) -> None:
        setattr(obj, name, func)  # an instance attribute shadows the class method
        self._patched.append((obj, name))

    def _unpatch(self) -> None:
        while self._patched:
            obj, name = self._patched.pop()
            if name in vars(obj):
                delattr(obj, name)

    # ------------------------------------------------------------------ wrappers
    def _wrap_parse_losses(self, parse_losses):
        def parse_losses_checked(losses):
            loss, log_vars = parse_losses(losses)
            terms = {}
            for name, value in log_vars.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    terms[name] = float(value.detach())
            self._terms = terms
            if self.policy == 'skip' and not all(math.isfinite(v) for v in terms.values()):
                # keep NaN out of the smoothed log windows; the warning names them
                log_vars = type(log_vars)((k, v) for k, v in log_vars.items()
                                          if k not in terms or math.isfinite(terms[k]))
            return loss, log_vars
        return parse_losses_checked

    def _wrap_update(self, update_params):
        def update_params_checked(loss, *args, **kwargs):
            local_bad = not bool(torch.isfinite(loss.detach()).all())
            bad_ranks = _nonfinite_ranks(local_bad)
            if not bad_ranks:
                self.consecutive = 0
                return update_params(loss, *args, **kwargs)
            message = self._message(loss, local_bad, bad_ranks)
            logger = self._runner.logger if self._runner is not None else None
            if self.policy == 'stop' or (self.max_consecutive_skips is not None
                                         and self.consecutive + 1 > self.max_consecutive_skips):
                if self.policy == 'skip':
                    message += (f' {self.consecutive} consecutive updates were already skipped '
                                f'(max_consecutive_skips={self.max_consecutive_skips}).')
                message += (' Training stopped before this update (NonFiniteLossHook, '
                            f"policy={self.policy!r}); the weights and the last checkpoint are "
                            'from before it. Resume from the last checkpoint with a lower '
                            'learning rate, check the data (tools/check_dataset.py), or set '
                            "policy='skip' in the hook's config to skip such updates.")
                if logger is not None:
                    logger.error(message)
                raise NonFiniteLossError(message)
            self.skipped += 1
            self.consecutive += 1
            if logger is not None:
                logger.warning(message + f' Update skipped (NonFiniteLossHook, policy=\'skip\'; '
                               f'{self.skipped} skipped so far).')
                self._runner.message_hub.update_info('nonfinite_skipped', self.skipped)
            return None
        return update_params_checked

    def _message(self, loss, local_bad: bool, bad_ranks: List[int]) -> str:
        runner = self._runner
        where = ''
        if runner is not None:
            where = f' at iteration {runner.iter + 1}'
            max_iters = getattr(runner.train_loop, 'max_iters', None)
            if max_iters:
                where += f' (of {max_iters})'
        terms = dict(self._terms)
        if 'loss' not in terms:
            terms = {'loss': float(loss.detach().float().mean()), **terms}
        import torch.distributed as dist
        ranks = ''
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            ranks = (f' on rank(s) {bad_ranks} (this is rank {dist.get_rank()}'
                     f'{"" if local_bad else ", whose own loss is finite"})')
        return f'Non-finite training loss{where}{ranks}: {_format_terms(terms)}.'
