# Runtime shared by every crbench config.
default_scope = 'crbench'  # MMEngine finds crbench classes first (docs/environment.md)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # gloo works on CPU and GPU; set 'nccl' for multi-GPU runs.
    dist_cfg=dict(backend='gloo'),
)
# Used only when training is distributed: DDP that also works for CPU modules.
# The scope prefix is needed: Runner.wrap_model looks the type up with
# MODEL_WRAPPERS.get() on MMEngine's root registry, which does not search child
# registries for an unprefixed name (it would get None and fail in issubclass).
model_wrapper_cfg = dict(type='crbench.CPUCompatibleDDP')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_best='RMSE', rule='less'),  # the papers monitor RMSE
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Global RNG state in every checkpoint, so resume is bit-exact (diffusion noise).
    random_state=dict(type='RandomStateHook'),
)
# Stop with a message naming the iteration and every loss term when the loss
# becomes NaN/inf (policy='skip' skips such updates instead): crbench/engine/fault_hooks.py.
custom_hooks = [dict(type='NonFiniteLossHook', policy='stop')]
log_processor = dict(type='LogProcessor', by_epoch=False, window_size=50)
log_level = 'INFO'
vis_backends = [dict(type='LocalVisBackend')]
# No fixed name: MMEngine keys visualizers by name, and several Runners in one process
# (multi-stage training, train then test) must each log into their own work dir.
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

# Seeds per rank: with diff_rank_seed=False every rank starts from `seed` (data differ
# because the sampler shards them); diff_rank_seed=True uses seed + rank, so diffusion
# noise and augmentation also differ across ranks. deterministic=True for bit-exact runs.
randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
