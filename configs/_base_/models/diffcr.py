# DiffCR (Zou et al., TGRS 2024; official code XavierJiezou/DiffCR, config/ours_sigmoid.json):
# the DiffCRNAFNet denoiser (width 64, one block per stage, 4 stages, 22,937,731 parameters
# for RGB), x0 prediction, MSE loss; sigmoid schedules, T = 2000 for training and T = 1000 for
# sampling; DPM-Solver++(2M), 20 time-uniform steps + a final denoising step, with dynamic
# thresholding (ratio 0.995). See configs/diffcr/README.md.
model_name = 'diffcr'

model = dict(
    type='DiffCR',
    network=dict(type='DiffCRNAFNet', in_channels=3, cond_channels=3, out_channels=3, width=64,
                 enc_blocks=(1, 1, 1, 1), middle_blocks=1, dec_blocks=(1, 1, 1, 1)),
    train_timesteps=2000,
    test_timesteps=1000,
    sampler=dict(type='DPMSolverPP2MSampler', num_steps=20, spacing='process'),
    threshold_ratio=0.995,
    # The official sampler wraps the network as a discrete-time model and feeds it
    # DPM-Solver's model time 1000 (t - 1/N), while training feeds gamma: the code decides,
    # and converted official weights need it (crbench/models/diffusion/diffcr.py).
    sampling_noise_input='model_time',
    data_preprocessor=dict(type='CRDataPreprocessor'))
