# MSDA-CR on Sen2_MTC_New: the collection's recipe (MODELS.md §1.2). G: 1.2 x SmoothL1 + 0.04 x VGG16
# perceptual + 0.05 x WGAN; D (unconditional critic): WGAN + gradient penalty (lambda 10,
# interpolation factor ~ N(0, 1) as officially); G is stepped first.
# The generator ends in a sigmoid: it works on [0, 1] images (network_range) and its
# output is mapped to [-1, 1] by the framework.
_base_ = [
    '../_base_/datasets/sen2mtc_new.py',
    '../_base_/schedules/adam_iter.py',
    '../_base_/default_runtime.py',
]
model_name = 'msda_cr'

model = dict(
    type='GANRestorer',
    generator=dict(type='MSDACRGenerator', in_channels=3),
    discriminator=dict(type='MSDACRDiscriminator', in_channels=3),
    conditional=False,
    adversarial='wgan',
    adversarial_weight=0.05,
    pixel_losses=dict(
        smooth_l1=dict(type='SmoothL1Loss', beta=1.0),
        # ImageNet VGG16 from $CRBENCH_VGG16_WEIGHTS or the torch hub cache (never downloaded).
        perceptual=dict(type='VGGPerceptualLoss', band_mode='mean_rgb', rgb_bands=(0, 1, 2),
                        input_range=(0.0, 1.0))),
    pixel_weights=dict(smooth_l1=1.2, perceptual=0.04),
    gradient_penalty=dict(type='WGANGradientPenalty', weight=10.0, interp='normal'),
    update_order=('generator', 'discriminator'),
    input_keys=('cloudy', ),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Mono-temporal Sen2_MTC_New: only the cloudy date _0 (dataset option mono_temporal,
# DATA_FORMATS.md §5.3). Inputs are packed 1xCxHxW; the framework folds time into channels.
# MSDA-CR's output has as many bands as its input, so the cloudy
# image is read as R, G, B (its NIR is dropped) to match the RGB target.
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

# Adam lr 1e-4, betas (0.5, 0.999), weight decay 1e-5 for G and D (adam_iter.py), one
# optimiser each; no LR schedule.
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=_base_.optim_wrapper.optimizer),
    discriminator=dict(type='OptimWrapper', optimizer=_base_.optim_wrapper.optimizer))
# Distributed runs wrap G and D separately (GPU only); dead parameters need
# find_unused_parameters.
model_wrapper_cfg = dict(_delete_=True, type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False, find_unused_parameters=True)

# Schedule: 200 epochs at batch 2 (the collection, MODELS.md §1): 2,380 training
# images / 2 = 1,190 iterations per epoch -> 238,000 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
