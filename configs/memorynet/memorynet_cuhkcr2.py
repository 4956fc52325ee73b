# MemoryNet on CUHK-CR2: configs/_base_/models/memorynet.py (docs/models.md §1.1).
_base_ = ['../_base_/models/memorynet.py', '../_base_/datasets/cuhk_cr2.py']

model = dict(generator=dict(in_channels=4))

# Schedule: 200 epochs at batch 2 (the collection; table in ../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=44800, val_interval=2240)
default_hooks = dict(checkpoint=dict(interval=2240))
