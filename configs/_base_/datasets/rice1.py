# RICE1 (thin clouds, Google Earth): docs/datasets.md §3. 500 pairs -> 400 train / 100 test
# with the split shipped in crbench/datasets/splits/rice1_{train,test}.txt (rule: crbench/
# datasets/rice.py; the DE figure ids are in test).
# data_root is the RICE_DATASET folder as extracted from RICE_DATASET.zip.
dataset_type = 'RICEDataset'
data_root = 'data/RICE_DATASET'
version = 1
num_bands = 3

load_rgb = dict(
    type='LoadImageBands',
    sources=dict(cloudy=[('cloudy_path', [0, 1, 2])], gt=[('gt_path', [0, 1, 2])]))
# 512 -> 256 with MATLAB bicubic, then [0, 255] -> [-1, 1] without clipping, as CUHK-CR (§3.6).
# An RGBA file loses its alpha (channels 0-2 are read).
train_pipeline = [
    load_rgb,
    dict(type='MatlabResize', scale=0.5),
    dict(type='RescaleToSymmetric', in_range=(0, 255)),
    dict(type='PackCRInputs'),
]
# Testing also loads RICE2's cloud masks (RICE1 has none: the transform passes), so
# CRMetric adds RMSE/MAE inside and outside the clouds, as UnCRtainTS reports them.
test_pipeline = [
    load_rgb,
    dict(type='MatlabResize', scale=0.5),
    dict(type='LoadCloudMask'),
    dict(type='RescaleToSymmetric', in_range=(0, 255)),
    dict(type='PackCRInputs'),
]

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, version=version, split='train',
                 pipeline=train_pipeline))
# No val split is published. Checkpoint selection (save_best) uses 'val', 10 % of the 8:2
# training split (seed 0; crbench/datasets/base.py carve_validation_split; RICE1: 360 train /
# 40 val); 'trainval' is the whole training split. The test split is never read by training.
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, version=version, split='val',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, version=version, split='test',
                 pipeline=test_pipeline))

val_evaluator = dict(type='CRMetric', protocol='cuhk_official')
test_evaluator = val_evaluator
