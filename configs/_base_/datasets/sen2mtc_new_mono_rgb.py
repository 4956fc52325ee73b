# Sen2_MTC_New, mono-temporal RGB variant for single-image models whose output has as many
# bands as their input (MemoryNet, MSDA-CR, CVAE and DE on them): only the cloudy date _0
# (dataset option mono_temporal, docs/datasets.md §5.3), read as R, G, B (its NIR is dropped)
# to match the RGB target. Inputs are packed 1xCxHxW; the framework folds time into channels.
# Everything else (layout, rescaling, splits, protocol) is ./sen2mtc_new.py's.
_base_ = ['./sen2mtc_new.py']

load_frames = dict(
    type='LoadTIFFBands',
    sources=dict(cloudy=dict(path_key='cloudy_path', channels=4, bands=[0, 1, 2]),
                 gt=dict(path_key='gt_path', channels=4, bands=[0, 1, 2])))
train_pipeline = [
    load_frames,
    dict(type='RandomFlipRotate90', keys=('cloudy', 'gt'), seed=0),
    _base_.rescale,
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=_base_.meta_keys),
]
test_pipeline = [
    load_frames,
    _base_.rescale,
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=_base_.meta_keys),
]
train_dataloader = dict(dataset=dict(mono_temporal=0, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(mono_temporal=0, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(mono_temporal=0, pipeline=test_pipeline))
