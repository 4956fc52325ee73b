# AMGAN-CR on Sen2_MTC_New: configs/_base_/models/amgan_cr.py (docs/models.md §1.5).
_base_ = ['../_base_/models/amgan_cr.py', '../_base_/datasets/sen2mtc_new.py']

# Mono-temporal Sen2_MTC_New: only the cloudy date _0 (dataset option mono_temporal,
# docs/datasets.md §5.3). Inputs are packed 1xCxHxW; the framework folds time into channels.
# The cloudy image keeps its 4 bands (R, G, B, NIR); the target is R, G, B.
# attention_upper stays 1: M is computed in 0-255 units of the [-1, 1] range from the
# batch (first bands of the cloudy image), as no 8-bit loader exists for it.
model = dict(generator=dict(in_channels=4, out_channels=3),
             discriminator=dict(in_channels=4, out_channels=3))

# The official AMGAN-CR train loader does not shuffle (docs/models.md §1.5); kept for fidelity.
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=False),
                        dataset=dict(mono_temporal=0))
val_dataloader = dict(dataset=dict(mono_temporal=0))
test_dataloader = dict(dataset=dict(mono_temporal=0))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
