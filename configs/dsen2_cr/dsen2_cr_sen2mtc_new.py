# DSen2-CR on Sen2_MTC_New: configs/_base_/models/dsen2_cr.py, optical-only, plain L1.
_base_ = ['../_base_/models/dsen2_cr.py', '../_base_/datasets/sen2mtc_new_mono_rgb.py']

# Sen2_MTC_New has no SAR, and the papers that report DSen2-CR on it (CTGAN, PMAA, DiffCR;
# EMRDM Table 1(d) cites them) do not say how it was run. crbench's choice: the official
# optical-only variant (include_sar_input=False) on the mono-temporal RGB base (cloudy date
# _0 as R, G, B; the long skip needs as many input as output bands). The CARL mask needs
# the 13 Sentinel-2 bands (aerosol, cirrus, SWIR), which Sen2_MTC_New lacks, so the loss is
# the official plain-L1 variant (paper Sec. 5.3 trains both).
model = dict(generator=dict(optical_channels=3, sar_channels=0), use_sar=False, loss='l1')
num_frames = 1  # mono-temporal: the packed input is 1 x 3 x H x W (tools/benchmark.py reads this)

# The official data recipe: random 128 x 128 crops and a flip/rotation drawn on every read,
# batch 16. Sen2_MTC_New is scaled by 1 / 10000 to [-1, 1] (the base), which the network's
# optical_range maps to reflectance / 2000 as in the official code.
train_pipeline = [
    {{_base_.load_frames}},
    dict(type='PairedRandomCrop', keys=('cloudy', 'gt'), size=128, last_offset=False),
    dict(type='RandomFlipRotate90', keys=('cloudy', 'gt'), seed=None),
    {{_base_.rescale}},
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))

# Schedule (crbench's choice; the official 8 epochs would be only 1,184 steps on 2,380
# images): 200 epochs as crbench's other Sen2_MTC_New baselines, floor(2,380 / 16) = 148
# iterations per epoch -> 29,600; validation and checkpoints every 10 epochs (1,480).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=29600, val_interval=1480)
default_hooks = dict(checkpoint=dict(interval=1480))
