# CTGAN on Sen2_MTC_New (the dataset CTGAN introduced; docs/datasets.md §5):
# configs/_base_/models/ctgan.py with the official train.py / README schedule.
_base_ = ['../_base_/models/ctgan.py', '../_base_/datasets/sen2mtc_new.py']

# The official loss pulls all four bands (R, G, B, NIR) of the clear image: training loads
# its NIR too; validation and test keep the RGB target the metrics read (pred_bands=3).
train_pipeline = [
    dict(type='LoadTIFFBands',
         sources=dict(cloudy=dict(path_key='cloudy_path', channels=4),
                      gt=dict(path_key='gt_path', channels=4))),
    dict(type='RandomFlipRotate90', keys=('cloudy', 'gt'), seed=0),
    _base_.rescale,
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=_base_.meta_keys),
]
# Batch 4 (README command; train.py's default is 2), 100 epochs of floor(2,380 / 4) = 595
# iterations (drop_last) = 59,500 iterations; validation (and the best-PSNR checkpoint)
# every epoch as officially.
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
# The official test.py evaluates in batches of 4 in file order. With token_axis='batch'
# a prediction depends on the other samples of its batch, so the same batch size is used.
val_dataloader = dict(batch_size=4)
test_dataloader = dict(batch_size=4)

train_cfg = dict(type='IterBasedTrainLoop', max_iters=59500, val_interval=595)
default_hooks = dict(checkpoint=dict(interval=595, save_best='PSNR', rule='greater'))
# CosineAnnealingLR(T_max=100 epochs, eta_min=1e-6) for G and D. The official scheduler
# steps once per epoch; here it is the same cosine stepped every iteration.
param_scheduler = [dict(type='CosineAnnealingLR', T_max=59500, eta_min=1e-6, by_epoch=False)]
