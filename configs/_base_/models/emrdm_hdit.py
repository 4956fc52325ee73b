# EMRDM (Liu et al., CVPR 2025) with its HDiT network, as EMRDM paper Table 5 trains it on CUHK-CR
# and SEN12MS-CR (docs/models.md §3). A concrete config sets the bands of `hdit` (input = bands of
# c_in x_sigma + condition bands, output = restored bands) and the process's sigma distribution
# and sampler where its dataset's differ from these (CUHK-CR1's).
#
# Network: HDiT, patch 1, widths [128, 256, 384, 768], depths [2, 2, 2, 2], FFN [256, 512, 768,
# 1536], heads of 64 channels (2/4/6/12), neighbourhood attention (kernel 7) on levels 0-1 and
# global attention on levels 2-3, dropout [0, 0, 0, 0.1], mapping network depth 2, width 768,
# FFN 1536, dropout 0.1.
# Process: alpha 3.0, sigma_data 1.0, sigma_mu 1.0, sigma_cov 0.9, ln sigma ~ N(-1.4, 1.4^2),
# sigma in [0.001, 100], rho 7.
# Sampler: stochastic Euler, N = 4, S_churn 0.1, S_noise 0.995, S_tmin 0, S_tmax 1e8.
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
    p_mean=-1.4, p_std=1.4,
    sigma_min=0.001, sigma_max=100.0, rho=7.0,
    sampler=dict(type='StochasticEulerSampler', num_steps=4, s_churn=0.1, s_noise=0.995,
                 s_tmin=0.0, s_tmax=1e8),
    data_preprocessor=dict(type='CRDataPreprocessor'))
