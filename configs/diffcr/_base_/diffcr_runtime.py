# DiffCR's optimisation (official config/ours_sigmoid.json; the paper gives no more detail):
# Adam, lr 5e-5, no weight decay, constant lr; batch 8; EMA of the parameters with decay
# 0.9999 updated every iteration after the first, used for validation and test.
_base_ = ['../../_base_/default_runtime.py']

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=5e-5, weight_decay=0.0))
# MMEngine's momentum is 1 - decay; buffers are not averaged (the official EMA walks
# parameters() only).
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=1e-4, begin_iter=1,
         update_buffers=False)]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
