# GLF-CR on SEN12MS-CR: configs/_base_/models/glf_cr.py, recipe of the official code
# (xufangchn/GLF-CR, codes/train_CR_net.py and dataloader.py); the paper gives no more detail.
_base_ = ['../_base_/models/glf_cr.py', '../_base_/datasets/sen12mscr.py']

model = dict(generator=dict(opt_channels=13, sar_channels=2))

# Official scaling: optical clip [0, 10000] (the dataset base config), SAR VV clip [-25, 0] dB and
# VH clip [-32.5, 0] dB, each band to its own range (the dataset base clips both to [-25, 0]).
# NaN pixels follow crbench's SEN12MS-CR rule (the lower bound; officially the image mean).
# Training: random 128x128 crops, the same window in the cloudy, SAR and clear images (the
# network is built for 128 px: train_size); testing on the whole 256x256 images (the official
# test script takes the central 128x128 crop; EMRDM's figures tile 256 px into four 128 px).
load_triplet = _base_.load_triplet
sar_scaling = dict(type='RescaleBandsToSymmetric', key='sar',
                   in_ranges=((-25.0, 0.0), (-32.5, 0.0)), clip=True, nan_values=(-25.0, -32.5))
optical_scaling = dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'), in_range=(0.0, 10000.0),
                       clip=True, nan_value=0.0)
pack = _base_.train_pipeline[-1]
train_pipeline = [load_triplet, dict(type='PairedRandomCrop', size=128, keys=('cloudy', 'sar', 'gt')),
                  sar_scaling, optical_scaling, pack]
test_pipeline = [load_triplet, sar_scaling, optical_scaling, pack]

# Batch 1 (official default), shuffled.
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# 30 epochs; StepLR(5, 0.5) stepped after every epoch but the first, so lr 1e-4 for epochs
# 1-6, then halved before epochs 7, 12, 17, 22 and 27 (epochs counted from 1). In iterations
# of batch 1 on the leak-free train split (107,143 images; 1 epoch = 107,143 iterations):
epoch = 107143
train_cfg = dict(type='IterBasedTrainLoop', max_iters=30 * epoch, val_interval=epoch)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, gamma=0.5,
                        milestones=[6 * epoch, 11 * epoch, 16 * epoch, 21 * epoch, 26 * epoch])]
default_hooks = dict(checkpoint=dict(interval=epoch))
