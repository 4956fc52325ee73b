# MSDA-CR, the collection's recipe (docs/models.md §1.2). G: 1.2 x SmoothL1 + 0.04 x VGG16
# perceptual + 0.05 x WGAN; D (unconditional critic): WGAN + gradient penalty (lambda 10,
# interpolation factor ~ N(0, 1) as officially); G is stepped first.
# The generator ends in a sigmoid: it works on [0, 1] images (network_range) and its
# output is mapped to [-1, 1] by the framework. Output bands = input bands.
# A concrete config sets the bands (generator and discriminator `in_channels`) and, where
# R, G, B are not bands 0, 1, 2, the perceptual loss's `rgb_bands`.
# With the collection's optimiser (../schedules/adam_iter_gan.py; the schedule is set per
# dataset) and runtime (../gan_runtime.py).
_base_ = ['../schedules/adam_iter_gan.py', '../gan_runtime.py']
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
