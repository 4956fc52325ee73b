# EMRDM Table 3 (alpha sweep on Sen2_MTC_New): alpha 3.0, sigma_data = sigma_mu = 1.0,
# sigma_cov 0.9, deterministic Euler, N = 5, sigma_max 100 (ablation/alpha3.0.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(alpha=3.0)
