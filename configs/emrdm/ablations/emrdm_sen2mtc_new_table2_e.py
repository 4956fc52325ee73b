# EMRDM Table 2, config E "+ Our preconditioning": alpha 1.0 with sigma_mu 1.0 and
# sigma_cov 0.9 (ablation/config_e.yaml; the released sen2_mtc_new.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(mean_reverting=True, alpha=1.0, sigma_mu=1.0, sigma_cov=0.9)
