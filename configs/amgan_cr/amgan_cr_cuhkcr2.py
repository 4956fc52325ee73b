# AMGAN-CR on CUHK-CR2: configs/_base_/models/amgan_cr.py (docs/models.md §1.5).
_base_ = ['../_base_/models/amgan_cr.py', '../_base_/datasets/cuhk_cr2.py']

model = dict(generator=dict(in_channels=4, out_channels=4),
             discriminator=dict(in_channels=4, out_channels=4))

# The official AMGAN-CR train loader does not shuffle (docs/models.md §1.5); kept for fidelity.
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=False))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=44800, val_interval=2240)
default_hooks = dict(checkpoint=dict(interval=2240))
