# PMAA on Sen2_MTC_New (multi-temporal, three cloudy dates): configs/_base_/models/pmaa.py.
# Official recipe (train_new.py defaults; the paper gives no other values): batch 4 of
# full 256 x 256 images (no crop), drop_last, 100 epochs, AdamW lr 5e-4, betas (0.5, 0.999),
# weight decay 5e-4 for G and D, cosine annealing to 1e-6 over the 100 epochs.
_base_ = ['../_base_/models/pmaa.py', '../_base_/datasets/sen2mtc_new.py']

# PMAA trains on the clear image's four bands (R, G, B, NIR; official out_channel=4); the
# validation/test pipelines keep the three-band target that the protocol scores.
train_pipeline = [
    dict(type='LoadTIFFBands',
         sources=dict(cloudy=dict(path_key='cloudy_path', channels=4),
                      gt=dict(path_key='gt_path', channels=4, bands=[0, 1, 2, 3]))),
    dict(type='RandomFlipRotate90', keys=('cloudy', 'gt'), seed=0),
    dict(type='RescaleToSymmetric', keys=('cloudy', 'gt'), in_range=(0.0, 10000.0)),
    dict(type='PackCRInputs', input_keys=('cloudy', ), meta_keys=_base_.meta_keys),
]
train_dataloader = dict(batch_size=4, drop_last=True, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='AdamW', lr=5e-4, betas=(0.5, 0.999), weight_decay=5e-4)),
    discriminator=dict(type='OptimWrapper', optimizer=dict(
        type='AdamW', lr=5e-4, betas=(0.5, 0.999), weight_decay=5e-4)))

# 100 epochs of floor(2,380 / 4) = 595 iterations. The official cosine is stepped once per
# epoch (T_max = 100 epochs); here it follows the same curve per iteration.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=59500, val_interval=595)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='CosineAnnealingLR', T_max=59500, eta_min=1e-6, by_epoch=False)]
# The official script keeps the best-PSNR and best-SSIM generators of its validations.
default_hooks = dict(checkpoint=dict(interval=5950, save_best='PSNR', rule='greater'))
