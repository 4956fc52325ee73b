# DE on SEN12MS-CR (13 Sentinel-2 bands, 256x256): a crbench extension, the DE paper has no
# SEN12MS-CR experiment. DE's CNP, WA and reference network see the cloudy optical image only
# (DE has no SAR input), so the training pipelines load no SAR; testing keeps the dataset's
# pipeline (its SAR entry is ignored by DE). The three stages are ./de_schedule.py's.
_base_ = ['../../_base_/datasets/sen12mscr.py', './de_schedule.py']

load_optical = dict(
    type='LoadGeoTIFFBands',
    sources=dict(cloudy=dict(path_key='cloudy_path', count=13, dtype='uint16'),
                 gt=dict(path_key='gt_path', count=13, dtype='uint16')),
    georef_from='gt')
# The dataset's scaling (clip [0, 10000], NaN -> 0, then [-1, 1]) comes first, so that the
# stage-1 resize never sees NaN; then DE's whole-image MATLAB resize (256 -> 64, stage 1 only)
# and random horizontal flip.
rescale_optical = dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'), in_range=(0.0, 10000.0),
                       clip=True, nan_value=0.0)
pack_optical = dict(type='PackCRInputs', input_keys=('cloudy', ),
                    meta_keys=('sample_id', 'cloudy_path', 'gt_path', 'band_names', 'dataset',
                               'synthetic', 'crs', 'transform', 'bounds', 'img_shape', 'flip'))
train_pipeline = [
    load_optical,
    rescale_optical,
    dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
    pack_optical,
]
train_pipeline_64 = [load_optical, rescale_optical, dict(type='MatlabResize', size=(64, 64)),
                     *train_pipeline[2:]]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))

# Validation samples 50 DDIM steps per image on 7,176 val images: only at the end of each stage.
train_cfg = dict(val_interval=20000)  # = stage 3, the final model
stages = [dict(s, cfg_options=dict(s.cfg_options, train_cfg=dict(
    s.cfg_options.train_cfg, val_interval=s.cfg_options.train_cfg.max_iters)))
    for s in _base_.stages]
