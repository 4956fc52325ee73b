# SpA-GAN on SEN12MS-CR: configs/_base_/models/spagan.py (docs/models.md §1.4).
_base_ = ['../_base_/models/spagan.py', '../_base_/datasets/sen12mscr.py']

# SAR is concatenated to the cloudy image (13 + 2 = 15 bands in, 13 out), as the
# EMRDM condition; the generator and the conditional D accept different in/out bands.
# attention_upper stays 1: M is computed in 0-255 units of the [-1, 1] range from the
# batch (first bands of the cloudy image), as no 8-bit loader exists for it.
model = dict(generator=dict(in_channels=15, out_channels=13),
             discriminator=dict(in_channels=15, out_channels=13), input_keys=('cloudy', 'sar'))

# Schedule: crbench's 100,000 iterations at batch 2 (../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
