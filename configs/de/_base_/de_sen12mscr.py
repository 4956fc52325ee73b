# DE on SEN12MS-CR (13 Sentinel-2 bands, 256x256): a crbench extension, the DE paper has no
# SEN12MS-CR experiment. DE's CNP, WA and reference network see the cloudy optical image only
# (DE has no SAR input), so the training pipelines load no SAR; testing keeps the dataset's
# pipeline (its SAR entry is ignored by DE). configs/de/de_{memorynet,msda}_sen12mscr.py add
# the reference network.
_base_ = ['../../_base_/datasets/sen12mscr.py', './de_framework.py']

model = dict(cnp=dict(num_bands=13), weight_net=dict(num_bands=13))

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
train_pipeline_64 = [
    load_optical,
    rescale_optical,
    dict(type='MatlabResize', size=(64, 64)),
    dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
    pack_optical,
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
# Validation samples 50 DDIM steps per image on 7,176 val images: only at the end of a stage.
train_cfg = dict(max_iters=20000, val_interval=20000)  # = stage 3, the final model

stages = [
    # 1: pure diffusion, CNP only, DE Eq. 7, 64x64 images.
    dict(name='stage1_diffusion',
         cfg_options=dict(model=dict(stage=1, fusion='none'),
                          train_dataloader=dict(batch_size=64,
                                                dataset=dict(pipeline=train_pipeline_64)),
                          train_cfg=dict(max_iters=40000, val_interval=40000))),
    # 2: CNP locked, WA trained with DE Eq. 16 at 256x256; the WA is new (zero W at start).
    dict(name='stage2_wa', new_keys=['weight_net.'],
         cfg_options=dict(model=dict(stage=2, fusion='wa'),
                          train_dataloader=dict(batch_size=16,
                                                dataset=dict(pipeline=train_pipeline)),
                          train_cfg=dict(max_iters=10000, val_interval=10000))),
    # 3: joint fine-tuning, DE Eq. 17.
    dict(name='stage3_joint',
         cfg_options=dict(model=dict(stage=3, fusion='wa'),
                          train_dataloader=dict(batch_size=16,
                                                dataset=dict(pipeline=train_pipeline)),
                          train_cfg=dict(max_iters=20000, val_interval=20000))),
]
