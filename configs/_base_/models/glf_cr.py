# GLF-CR (Xu et al., ISPRS J. Photogramm. 2022; official code xufangchn/GLF-CR) in crbench's
# SupervisedRestorer: crbench/models/reference/glf_cr.py, configs/glf_cr/README.md.
# The network reads the cloudy optical bands followed by the SAR bands (input_keys order)
# in [0, 1], as the official code feeds it (network_range; crbench's tensors are [-1, 1]),
# and returns the cloudy image plus a predicted residual.
# A concrete config sets the bands (generator opt_channels / sar_channels) and the schedule.
_base_ = ['../schedules/adam_iter.py', '../default_runtime.py']
model_name = 'glf_cr'

model = dict(
    type='SupervisedRestorer',
    generator=dict(type='GLFCR', opt_channels=13, sar_channels=2, channels=96, growth=48,
                   num_blocks=6, num_layers=5, num_heads=8, window_size=8, mlp_ratio=2.0,
                   drop_path_rate=0.2, kernel_size=5, train_size=128),
    # The official loss: L1 between prediction and clear image on [0, 1] data.
    losses=dict(l1=dict(type='torch.nn.L1Loss')),
    input_keys=('cloudy', 'sar'),
    network_range=(0.0, 1.0),
    clamp_output=True,
    data_preprocessor=dict(type='CRDataPreprocessor'))

# The official optimiser: Adam, lr 1e-4, PyTorch's default betas (0.9, 0.999), no weight decay.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0))
