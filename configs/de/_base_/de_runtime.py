# DE's runtime: configs/_base_/default_runtime.py (with its NaN/inf loss guard) plus the EMA of
# DE Sec. V-B and the official checkpoint interval.
_base_ = ['../../_base_/default_runtime.py']

# ema_rate 0.9999 of guided-diffusion = MMEngine momentum 1e-4. Validation, testing and the
# saved `state_dict` use the EMA weights (the raw ones are kept under `ema_state_dict`).
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=1e-4, update_buffers=False)]
# Checkpoints every 1000 steps, the official save_interval; save_last: each stage's final
# checkpoint starts the next stage.
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=1000, max_keep_ckpts=3, save_last=True))
