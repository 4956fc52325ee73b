# EMRDM Table 2, config A "Baseline (s(t) = 1)": a generative EDM, the network sees only the
# noisy images (3 channels per frame, no condition); sigma_mu = sigma_cov = 0
# (ablation/config_a.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(mean_reverting=False, sigma_mu=0.0, sigma_cov=0.0, cond_bands=[],
             network=dict(in_channels=3))
