# CVAE on RICE2: configs/_base_/models/cvae.py (docs/models.md §1.3).
_base_ = ['../_base_/models/cvae.py', '../_base_/datasets/rice2.py']

model = dict(generator=dict(in_channels=3))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=58800, val_interval=2940)
default_hooks = dict(checkpoint=dict(interval=2940))
