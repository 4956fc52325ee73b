# SEN12MS-CR: docs/datasets.md §4. S1 SAR (VV, VH) + cloudy S2 (13 bands) -> clear S2 (13 bands).
# data_root holds the 12 extracted ROIs*_{s1,s2,s2_cloudy} folders. Split sizes on a complete
# copy: train 107,143 (split_mode='exact', leak-free, the default here) or 114,050
# (split_mode='legacy_substring', EMRDM's substring matching, which leaks 6 test and 3 val
# scenes into train); val 7,176; test 7,899. To reproduce EMRDM, override in a child config:
#   train_dataloader = dict(dataset=dict(split_mode='legacy_substring'))
dataset_type = 'SEN12MSCRDataset'
data_root = 'data/SEN12MSCR'
num_bands = 13      # target / cloudy S2 bands
sar_bands = 2       # EMRDM's condition is cat([sar, cloudy]): 15 bands

load_triplet = dict(
    type='LoadGeoTIFFBands',
    sources=dict(cloudy=dict(path_key='cloudy_path', count=13, dtype='uint16'),
                 sar=dict(path_key='sar_path', count=2, dtype='float32'),
                 gt=dict(path_key='gt_path', count=13, dtype='uint16')),
    georef_from='gt')
# EMRDM 'default' rescaling (§4.6): SAR clip [-25, 0] dB, optical clip [0, 10000]; NaN -> the
# lower bound (-25 dB / 0), i.e. -1 after scaling. No resize, crop or flip.
train_pipeline = [
    load_triplet,
    dict(type='RescaleToSymmetric', keys=('sar', ), in_range=(-25.0, 0.0), clip=True,
         nan_value=-25.0),
    dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'), in_range=(0.0, 10000.0), clip=True,
         nan_value=0.0),
    dict(type='PackCRInputs', input_keys=('cloudy', 'sar'),
         meta_keys=('sample_id', 'cloudy_path', 'gt_path', 'sar_path', 'band_names',
                    'sar_band_names', 'dataset', 'synthetic', 'crs', 'transform', 'bounds',
                    'img_shape')),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', split_mode='exact',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))

val_evaluator = dict(type='CRMetric', protocol='sen12mscr_official')
test_evaluator = val_evaluator
