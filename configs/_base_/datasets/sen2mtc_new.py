# Sen2_MTC_New (CTGAN): docs/datasets.md §5. Three cloudy dates (R, G, B, NIR) -> clear RGB.
# data_root holds train.txt, val.txt, test.txt and Sen2_MTC/. 2,380 / 350 / 687 samples.
# Inputs: cloudy = T x 4 x H x W; target: 3 x H x W (the clear image's NIR is discarded).
# Ablations: dataset multi_temporal=1..3 (keep _0.._{n-1}) or mono_temporal=j (keep only _j).
dataset_type = 'Sen2MTCNewDataset'
data_root = 'data/CTGAN/Sen2_MTC/dataset'
num_bands = 3       # target bands (RGB)
cloudy_bands = 4    # per time step: R, G, B, NIR
num_frames = 3

load_frames = dict(
    type='LoadTIFFBands',
    sources=dict(cloudy=dict(path_key='cloudy_path', channels=4),
                 gt=dict(path_key='gt_path', channels=4, bands=[0, 1, 2])))
# x / 10000 then (x - 0.5) / 0.5, no clipping (§5.6).
rescale = dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'), in_range=(0.0, 10000.0))
meta_keys = ('sample_id', 'cloudy_path', 'gt_path', 'band_names', 'cloudy_band_names',
             'time_steps', 'dataset', 'synthetic', 'img_shape', 'flip_code', 'rot90_k')
# Training: one flip (none / rows / cols) and k x 90 deg rotation per sample, the same for all
# frames and the target, fixed by (seed, sample index) as EMRDM fixes one per sample.
train_pipeline = [
    load_frames,
    dict(type='RandomFlipRotate90', keys=('cloudy', 'gt'), seed=0),
    rescale,
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=meta_keys),
]
test_pipeline = [
    load_frames,
    rescale,
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))

val_evaluator = dict(type='CRMetric', protocol='sen2mtc_official')
test_evaluator = val_evaluator
