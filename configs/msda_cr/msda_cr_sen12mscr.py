# MSDA-CR on SEN12MS-CR: configs/_base_/models/msda_cr.py (docs/models.md §1.2).
_base_ = ['../_base_/models/msda_cr.py', '../_base_/datasets/sen12mscr.py']

# Perceptual loss: VGG16 sees the RGB bands B4, B3, B2 (indices 3, 2, 1).
# Cloudy Sentinel-2 only (13 bands in and out): this generator's output has as many bands
# as its input (residual / shared convs), so SAR cannot be concatenated. The SAR
# image is loaded by the dataset pipeline but not used.
model = dict(generator=dict(in_channels=13), discriminator=dict(in_channels=13),
             pixel_losses=dict(perceptual=dict(rgb_bands=(3, 2, 1))))

# Schedule: crbench's 100,000 iterations at batch 2 (../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
