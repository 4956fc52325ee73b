# CVAE on SEN12MS-CR: configs/_base_/models/cvae.py (docs/models.md §1.3).
_base_ = ['../_base_/models/cvae.py', '../_base_/datasets/sen12mscr.py']

# Edge term on all 13 bands: the official term filters the first three bands, which are
# R, G, B on every dataset the collection used but B1, B2, B3 (aerosol, blue, green) here.
# Cloudy Sentinel-2 only (13 bands in and out): this generator's output has as many bands
# as its input (residual / shared convs), so SAR cannot be concatenated. The SAR
# image is loaded by the dataset pipeline but not used.
model = dict(generator=dict(in_channels=13),
             edge_loss=dict(type='LaplacianEdgeL1Loss', bands='all'))

# Schedule: crbench's 100,000 iterations at batch 2 (../_base_/schedules/adam_iter.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
