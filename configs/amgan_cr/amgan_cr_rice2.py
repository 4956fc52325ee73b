# AMGAN-CR on RICE2: configs/_base_/models/amgan_cr.py (docs/models.md §1.5).
_base_ = ['../_base_/models/amgan_cr.py', '../_base_/datasets/rice2.py']

# attention_upper 10: M = clip(sum(gt - cloudy), 0, 10) in 0-255 units
model = dict(generator=dict(in_channels=3, out_channels=3),
             discriminator=dict(in_channels=3, out_channels=3), attention_upper=10.0)

# The official AMGAN-CR train loader does not shuffle (docs/models.md §1.5); kept for fidelity.
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=False))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=58800, val_interval=2940)
default_hooks = dict(checkpoint=dict(interval=2940))
