# MSDA-CR on CUHK-CR1: configs/_base_/models/msda_cr.py (docs/models.md §1.2).
_base_ = ['../_base_/models/msda_cr.py', '../_base_/datasets/cuhk_cr1.py']

# Perceptual loss: VGG16 sees R, G, B (the NIR band gets no perceptual term).
model = dict(generator=dict(in_channels=4), discriminator=dict(in_channels=4))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=53400, val_interval=2670)
default_hooks = dict(checkpoint=dict(interval=2670))
