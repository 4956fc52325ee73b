# DSen2-CR on SEN12MS-CR with SAR and CARL: configs/_base_/models/dsen2_cr.py.
_base_ = ['../_base_/models/dsen2_cr.py', '../_base_/datasets/sen12mscr.py']

# Data as the official generator (paper Sec. 5.1; what the code decides is marked "code"):
# * a random 128 x 128 window per image (code: offsets 0..127, hence last_offset=False),
#   then a random flip (none, rows, cols) and a k x 90 deg rotation, drawn anew on every
#   read (code);
# * the CARL cloud + shadow mask is computed from the cropped, flipped cloudy image in
#   reflectance x 1e4, before rescaling (paper Sec. 4.3.2; code threshold 0.2, cloud or
#   shadow -> 1);
# * SAR clipped per band, VV [-25, 0] dB and VH [-32.5, 0] dB (code); optical clipped to
#   [0, 10000]. NaN -> the band's lower bound (crbench's SEN12MS-CR rule; the official code
#   fills the image mean).
# Evaluation runs on the full 256 x 256 images with the SEN12MS-CR protocol of the base.
sar_rescale = dict(type='RescaleBandsToSymmetric', key='sar',
                   in_ranges=((-25.0, 0.0), (-32.5, 0.0)), clip=True, nan_values=(-25.0, -32.5))
optical_rescale = dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'),
                       in_range=(0.0, 10000.0), clip=True, nan_value=0.0)
pack = dict(type='PackCRInputs', input_keys=('cloudy', 'sar'),
            meta_keys=('sample_id', 'cloudy_path', 'gt_path', 'sar_path', 'band_names',
                       'sar_band_names', 'dataset', 'synthetic', 'crs', 'transform', 'bounds',
                       'img_shape'))
train_pipeline = [
    {{_base_.load_triplet}},
    dict(type='PairedRandomCrop', keys=('cloudy', 'sar', 'gt'), size=128, last_offset=False),
    dict(type='RandomFlipRotate90', keys=('cloudy', 'sar', 'gt'), seed=None),
    dict(type='SentinelCloudShadowMask', key='cloudy', threshold=0.2),
    sar_rescale,
    optical_rescale,
    pack,
]
test_pipeline = [{{_base_.load_triplet}}, sar_rescale, optical_rescale, pack]

train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# Schedule: the official 8 epochs at batch 16 on the leak-free train split (107,143 images):
# floor(107,143 / 16) = 6,696 iterations per epoch -> 53,568; validation and a checkpoint
# after every epoch (the official ModelCheckpoint saves each epoch).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=53568, val_interval=6696)
default_hooks = dict(checkpoint=dict(interval=6696))
