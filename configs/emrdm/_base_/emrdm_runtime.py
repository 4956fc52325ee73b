# EMRDM's optimisation and runtime (EMRDM paper Table 5, docs/models.md §3): AdamW lr 1e-4,
# betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on all parameters, no LR schedule; EMA 0.9999
# with warm-up min(0.9999, (1 + n)/(10 + n)), used for validation and test; seed 3407.
# The EMA hook is added to configs/_base_/default_runtime.py's hooks, so training keeps its
# NaN/inf loss guard.
_base_ = ['../../_base_/default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
custom_hooks = _base_.custom_hooks + [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999)]

val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
randomness = dict(seed=3407, deterministic=False)
