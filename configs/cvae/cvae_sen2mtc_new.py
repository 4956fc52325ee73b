# CVAE on Sen2_MTC_New: configs/_base_/models/cvae.py (docs/models.md §1.3).
_base_ = ['../_base_/models/cvae.py', '../_base_/datasets/sen2mtc_new_mono_rgb.py']

# Mono-temporal Sen2_MTC_New, cloudy date _0 only (the dataset base
# sen2mtc_new_mono_rgb.py). CVAE's output has as many bands as its input, so the cloudy
# image is read as R, G, B (its NIR is dropped) to match the RGB target.
model = dict(generator=dict(in_channels=3))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
