# EMRDM (Liu et al., CVPR 2025): the mean-reverting process, its preconditioning and the sampler
# (docs/models.md §3), shared by both of its networks: ./emrdm_hdit.py (single-date, CUHK-CR and
# SEN12MS-CR) and ./emrdm_thdit.py (multi-temporal, Sen2_MTC_New), which add the network.
# Process (EMRDM paper Table 5): alpha 3.0, sigma_data 1.0, sigma_mu 1.0, sigma_cov 0.9,
# ln sigma ~ N(-1.4, 1.4^2), sigma in [0.001, 100], rho 7.
# Sampler (Table 5, CUHK-CR1): stochastic Euler, N = 4, S_churn 0.1, S_noise 0.995, S_tmin 0,
# S_tmax 1e8. A concrete config sets the sigma distribution and sampler of its dataset.
model_name = 'emrdm'

model = dict(
    type='EMRDM',
    alpha=3.0, sigma_data=1.0, sigma_mu=1.0, sigma_cov=0.9,
    p_mean=-1.4, p_std=1.4,
    sigma_min=0.001, sigma_max=100.0, rho=7.0,
    sampler=dict(type='StochasticEulerSampler', num_steps=4, s_churn=0.1, s_noise=0.995,
                 s_tmin=0.0, s_tmax=1e8),
    data_preprocessor=dict(type='CRDataPreprocessor'))
