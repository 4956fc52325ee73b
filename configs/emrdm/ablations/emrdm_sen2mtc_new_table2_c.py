# EMRDM Table 2, config C "+ IR images": s(t) = 1, condition = cloudy R, G, B, NIR of each frame
# (3 + 4 = 7 input channels per frame); sigma_mu = sigma_cov = 0 (ablation/config_c.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(mean_reverting=False, sigma_mu=0.0, sigma_cov=0.0, cond_bands=None,
             network=dict(in_channels=7))
