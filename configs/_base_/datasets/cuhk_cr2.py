# CUHK-CR2 (thick cloud): docs/datasets.md §2. 448 train (403 train + 45 val) / 111 test,
# 4 bands R,G,B,NIR.
# data_root is the CUHK-CR2 folder of the C-CUHK download; the NIR tree is found
# at C-CUHK/nir/CUHK-CR2 (override with nir_root).
dataset_type = 'CUHKCRDataset'
dataset_name = 'CUHK-CR2'
data_root = 'data/C-CUHK/CUHK-CR2'
num_bands = 4

load_rgb_nir = dict(
    type='LoadImageBands',
    sources=dict(cloudy=[('cloudy_path', [0, 1, 2]), ('cloudy_nir_path', [0])],
                 gt=[('gt_path', [0, 1, 2]), ('gt_nir_path', [0])]))
# 512 -> 256 with MATLAB bicubic, then [0, 255] -> [-1, 1] without clipping (§2.6).
train_pipeline = [
    load_rgb_nir,
    dict(type='MatlabResize', scale=0.5),
    dict(type='RescaleToSymmetric', in_range=(0, 255)),
    dict(type='PackCRInputs'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, dataset_name=dataset_name,
                 split='train', pipeline=train_pipeline))
# Only train and test are published (§2.4). Checkpoint selection (save_best) uses 'val',
# 10 % of the published train folder (seed 0; crbench/datasets/base.py
# carve_validation_split); 'train' is the other 90 %, 'trainval' all of it. The test
# folder is never read by training.
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, dataset_name=dataset_name,
                 split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, dataset_name=dataset_name,
                 split='test', pipeline=test_pipeline))

val_evaluator = dict(type='CRMetric', protocol='cuhk_official')
test_evaluator = val_evaluator
