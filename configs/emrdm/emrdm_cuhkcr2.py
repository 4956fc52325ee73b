# EMRDM on CUHK-CR2 (thick clouds), EMRDM paper Table 5 column "CUHK-CR2" and MODELS.md §3
# (cuhkv2.yaml). Network and optimisation as configs/emrdm/emrdm_cuhkcr1.py.
# Process: alpha 3.0, sigma_data 1.0, sigma_mu 1.0, sigma_cov 0.9, ln sigma ~ N(-1.2, 1.2^2).
# Sampler: stochastic Euler, N = 4, S_churn 2.5 (gamma = 2.5 / 4 = 0.625 at every step),
# S_noise 1.0, S_tmin 0, S_tmax 1e8, sigma in [0.001, 100], rho 7.
#
# Schedule: Table 5 trains 470 epochs with batch 2 per GPU on 4 GPUs (effective batch 8):
# 448 / 8 = 56 iterations per epoch -> 470 x 56 = 26,320 iterations (Table 5 rounds to
# 26,300). Launch on 4 GPUs, or set batch_size=8 on one. cuhkv2.yaml validates every
# 5 epochs (val_interval 280).
_base_ = [
    '../_base_/datasets/cuhk_cr2.py',
    '../_base_/default_runtime.py',
]
model_name = 'emrdm'

hdit = dict(
    type='HDiT', in_channels=8, out_channels=4, patch_size=1,
    widths=[128, 256, 384, 768], depths=[2, 2, 2, 2], d_ffs=[256, 512, 768, 1536],
    self_attns=[dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='global', d_head=64),
                dict(type='global', d_head=64)],
    dropout_rate=[0.0, 0.0, 0.0, 0.1],
    mapping_depth=2, mapping_width=768, mapping_d_ff=1536, mapping_dropout_rate=0.1)

model = dict(
    type='EMRDM',
    network=hdit,
    alpha=3.0, sigma_data=1.0, sigma_mu=1.0, sigma_cov=0.9,
    p_mean=-1.2, p_std=1.2,
    sigma_min=0.001, sigma_max=100.0, rho=7.0,
    sampler=dict(type='StochasticEulerSampler', num_steps=4, s_churn=2.5, s_noise=1.0,
                 s_tmin=0.0, s_tmax=1e8),
    data_preprocessor=dict(type='CRDataPreprocessor'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
custom_hooks = [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999)]

train_dataloader = dict(batch_size=2)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=26320, val_interval=280)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
randomness = dict(seed=3407, deterministic=False)
