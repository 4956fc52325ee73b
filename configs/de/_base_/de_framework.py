# DE (Sui et al., TGRS 2024) framework defaults shared by every configs/de/ config.
# Networks (docs/models.md §2.1): CNP = ADM U-Net 96 ch, mult (1,1,2,2,3), attention at ds 4/8;
# WA = ADM U-Net 64 ch, mult (1,1,2), no scale-shift. Diffusion (§2.2): T = 1000, linear
# betas 1e-4 -> 0.02, eps-prediction, x0 clipped. Inference: DDIM 50 steps, eta_DDIM = 0
# (DE Sec. V-B; the official script defaults to 10 steps), W clamped to [eta, 1] = [0.3, 1].
# Training (Sec. V-B, docs/models.md §2.4): AdamW lr 1e-5 (weight decay 0), lambda = 1, EMA 0.9999.
# A concrete config adds the dataset, the reference network E and the three `stages`.
_base_ = ['../../_base_/default_runtime.py']

model_name = 'de'
model = dict(
    type='DiffusionEnhancement',
    cnp=dict(type='DECNP', num_bands=4),
    weight_net=dict(type='DEWeightNet', num_bands=4),
    # reference=dict(...), reference_checkpoint=..., reference_train_config=...: set by the
    # concrete config (MemoryNet or MSDA-CR).
    fusion='wa',
    fixed_weight=0.5,
    eta_limit=0.3,                 # DE's limiting factor eta (Sec. V-C3), inference only
    stage=3,                       # the final model; stages 1-2 override it (see `stages`)
    lambda_ddpm=1.0,               # lambda of DE Eq. 17
    num_timesteps=1000, beta_start=1e-4, beta_end=0.02, clip_denoised=True,
    sampler=dict(type='DDIMSampler', num_steps=50, eta=0.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.0))
# ema_rate 0.9999 of guided-diffusion = MMEngine momentum 1e-4. Validation, testing and the
# saved `state_dict` use the EMA weights (the raw ones are kept under `ema_state_dict`).
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=1e-4, update_buffers=False)]

# Iteration counts (set per stage by the concrete configs) are crbench's choice: the paper gives
# none and the official script runs until stopped (lr_anneal_steps 0). Checkpoints every 1000
# steps, the official save_interval.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=1000, max_keep_ckpts=3, save_last=True))

# Multi-stage training (crbench/engine/multi_stage.py): `stages` is defined by each concrete
# config; `only_stage=2` (or 'stage2_wa') trains one stage alone.
only_stage = None
