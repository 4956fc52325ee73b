# MSDA-CR on CUHK-CR2: the collection's recipe (docs/models.md §1.2). G: 1.2 x SmoothL1 + 0.04 x VGG16
# perceptual + 0.05 x WGAN; D (unconditional critic): WGAN + gradient penalty (lambda 10,
# interpolation factor ~ N(0, 1) as officially); G is stepped first.
# The generator ends in a sigmoid: it works on [0, 1] images (network_range) and its
# output is mapped to [-1, 1] by the framework.
# Perceptual loss: VGG16 sees R, G, B (the NIR band gets no perceptual term).
_base_ = [
    '../_base_/datasets/cuhk_cr2.py',
    '../_base_/schedules/adam_iter_gan.py',
    '../_base_/gan_runtime.py',
]
model_name = 'msda_cr'

model = dict(
    type='GANRestorer',
    generator=dict(type='MSDACRGenerator', in_channels=4),
    discriminator=dict(type='MSDACRDiscriminator', in_channels=4),
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

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 448 training
# images / 2 = 224 iterations per epoch -> 44,800 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=44800, val_interval=2240)
default_hooks = dict(checkpoint=dict(interval=2240))
