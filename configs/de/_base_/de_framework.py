# DE (Sui et al., TGRS 2024) framework defaults shared by every configs/de/ config.
# Networks (docs/models.md §2.1): CNP = ADM U-Net 96 ch, mult (1,1,2,2,3), attention at ds 4/8;
# WA = ADM U-Net 64 ch, mult (1,1,2), no scale-shift. Diffusion (§2.2): T = 1000, linear
# betas 1e-4 -> 0.02, eps-prediction, x0 clipped. Inference: DDIM 50 steps, eta_DDIM = 0
# (DE Sec. V-B; the official script defaults to 10 steps), W clamped to [eta, 1] = [0.3, 1].
# Training (Sec. V-B, docs/models.md §2.4): AdamW lr 1e-5 (weight decay 0), lambda = 1; the EMA
# and checkpoints are in ./de_runtime.py, the three stages in ./de_schedule.py.
# A concrete config (configs/de/de_<reference>_<dataset>.py) inherits a reference network
# (./de_memorynet.py or ./de_msda.py, which inherit this file), a dataset (./de_<dataset>.py)
# and ./de_runtime.py, and sets the bands and the reference checkpoint.
model_name = 'de'
model = dict(
    type='DiffusionEnhancement',
    cnp=dict(type='DECNP', num_bands=4),
    weight_net=dict(type='DEWeightNet', num_bands=4),
    # reference=dict(...), reference_checkpoint=..., reference_train_config=...: set by the
    # reference base and the concrete config.
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
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Multi-stage training (crbench/engine/multi_stage.py): `stages` is in ./de_schedule.py;
# `only_stage=2` (or 'stage2_wa') trains one stage alone.
only_stage = None
