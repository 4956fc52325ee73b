# EMRDM Table 2, config B "+ Corrupted images": s(t) = 1, condition = the cloudy RGB of each
# frame (3 + 3 = 6 input channels per frame); sigma_mu = sigma_cov = 0 (ablation/config_b.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(mean_reverting=False, sigma_mu=0.0, sigma_cov=0.0, cond_bands=[0, 1, 2],
             network=dict(in_channels=6))
