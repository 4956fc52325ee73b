# MemoryNet on SEN12MS-CR: configs/_base_/models/memorynet.py (docs/models.md §1.1).
_base_ = ['../_base_/models/memorynet.py', '../_base_/datasets/sen12mscr.py']

# Cloudy Sentinel-2 only (13 bands in and out): this generator's output has as many bands
# as its input (residual / shared convs), so SAR cannot be concatenated. The SAR
# image is loaded by the dataset pipeline but not used.
model = dict(generator=dict(in_channels=13))

# Schedule: crbench's 100,000 iterations at batch 2 (../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
