# EMRDM (./emrdm.py) with its TemporalHDiT network, as EMRDM paper Table 5 trains it on
# Sen2_MTC_New (multi-temporal, L = 3; docs/models.md §3.4).
#
# Network: TemporalHDiT ("THDiT"), patch 4, widths [256, 512, 768], depths [2, 2, 16], FFN
# [512, 1024, 1536], NA k7 / NA k7 / global (heads of 64), no dropout, mapping 2 x 768 / 1536 /
# 0.1, TFSA with 16 heads, d_k 48, FFN 1536 (148,878,322 parameters, Table 5 "148.88M").
# Per frame l the input is 7 = 3 (c_in x_sigma^l) + 4 (cloudy R, G, B, NIR of frame l);
# output 3 (RGB). mu^l = cloudy RGB of frame l (mean_bands [0, 1, 2]); the frames get
# independent noise and share sigma; c_skip / c_out / lambda use sigma^2 / L (EMRDM Eqs. 15-16).
# Process: ./emrdm.py's; alpha 3.0 as Table 5 and ablation/alpha3.0.yaml (the released
# sen2_mtc_new.yaml has 1.0).
# Sampler (Table 5): stochastic Euler, N = 5, S_churn 1.0 (gamma = 0.2), S_noise 1.0,
# S_tmin 0, S_tmax 100, sigma in [0.001, 100], rho 7 (the yaml samples deterministically).
_base_ = ['./emrdm.py']

thdit = dict(
    type='TemporalHDiT', in_channels=7, out_channels=3, patch_size=4,
    widths=[256, 512, 768], depths=[2, 2, 16], d_ffs=[512, 1024, 1536],
    self_attns=[dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='global', d_head=64)],
    dropout_rate=[0.0, 0.0, 0.0],
    mapping_depth=2, mapping_width=768, mapping_d_ff=1536, mapping_dropout_rate=0.1,
    temporal_n_heads=16, temporal_d_k=48, temporal_d_ff=1536, temporal_dropout=0.0,
    pad_value=0.0)

model = dict(
    network=thdit,
    sampler=dict(type='StochasticEulerSampler', num_steps=5, s_churn=1.0, s_noise=1.0,
                 s_tmin=0.0, s_tmax=100.0),
    mean_bands=[0, 1, 2],  # mu^l = RGB of frame l
    cond_bands=None)       # condition: all 4 bands of frame l
