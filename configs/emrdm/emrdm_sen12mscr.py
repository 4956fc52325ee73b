# EMRDM on SEN12MS-CR, EMRDM paper Table 5 column "SEN12MS-CR" and docs/models.md §3 (sentinel.yaml).
#
# Network: HDiT as on CUHK-CR (patch 1, widths [128, 256, 384, 768], depths [2, 2, 2, 2],
# FFN [256, 512, 768, 1536], NA k7 / NA k7 / global / global, dropout [0, 0, 0, 0.1], mapping
# 2 x 768 / 1536 / 0.1) with input 28 = 13 (c_in x_sigma) + 2 (S1 VV, VH) + 13 (cloudy S2) and
# output 13 (39,133,515 parameters). The condition is concat(S1, cloudy S2); mu = cloudy S2.
# Process: alpha 3.0, sigma_data 1.0, sigma_mu 1.0, sigma_cov 0.9, ln sigma ~ N(-1.2, 1.2^2).
# Sampler: stochastic Euler, N = 5, S_churn 5.0 (gamma = 5 / 5 = 1.0), S_noise 1.023,
# S_tmin 0, S_tmax 1e8, sigma in [0.001, 100], rho 7.
# Optimisation: AdamW lr 1e-4, betas (0.9, 0.999), eps 1e-8, wd 0.01; EMA 0.9999 with warm-up;
# seed 3407.
#
# Schedule: Table 5 trains 46 epochs with batch 2 per GPU on 4 GPUs (effective batch 8).
# With the leak-free train split of the base config (107,143 patches): ceil(107,143 / 8) =
# 13,393 iterations per epoch -> 46 x 13,393 = 616,078 iterations; validation every epoch.
# Table 5 lists 446,700 "Training Steps", which matches neither split size (EMRDM's leaky
# split has 114,050 patches -> 14,257 per epoch); set max_iters=446700 to stop where the
# paper's model stopped. Launch on 4 GPUs, or set batch_size=8 on one.
# To reproduce EMRDM's (leaky, substring-matched) train split, as the paper did:
#   train_dataloader = dict(dataset=dict(split_mode='legacy_substring'))
#   train_cfg = dict(max_iters=46 * 14257, val_interval=14257)
_base_ = [
    '../_base_/datasets/sen12mscr.py',
    '../_base_/default_runtime.py',
]
model_name = 'emrdm'

hdit = dict(
    type='HDiT', in_channels=28, out_channels=13, patch_size=1,
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
    sampler=dict(type='StochasticEulerSampler', num_steps=5, s_churn=5.0, s_noise=1.023,
                 s_tmin=0.0, s_tmax=1e8),
    use_sar=True,  # cond = concat(inputs['sar'], inputs['cloudy'])
    data_preprocessor=dict(type='CRDataPreprocessor'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
custom_hooks = [dict(type='EMAHook', ema_type='WarmupEMA', decay=0.9999)]

train_dataloader = dict(batch_size=2)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=616078, val_interval=13393)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
randomness = dict(seed=3407, deterministic=False)
