# EMRDM Table 2, config D "+ Our MRDM framework": s(t) = 1 / (1 + t) (alpha 1.0) with EDM's
# preconditioning, sigma_mu = sigma_cov = 0 (ablation/config_d.yaml).
_base_ = ['./emrdm_sen2mtc_new_ablation_base.py']

model = dict(mean_reverting=True, alpha=1.0, sigma_mu=0.0, sigma_cov=0.0)
