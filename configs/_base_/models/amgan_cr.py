# AMGAN-CR, the collection's recipe (docs/models.md §1.5). D: logistic GAN loss on the
# conditional PatchGAN (SpA-GAN's); G: 0.1 x GAN + 10 x L1 + 10 x MSE(mask, M); D first.
# Networks and losses work on [0, 1] images as officially (network_range); predictions are
# mapped back to [-1, 1].
# A concrete config sets the bands (generator and discriminator `in_channels`/`out_channels`),
# the inputs and `attention_upper`.
# With the collection's optimiser (../schedules/adam_iter_gan.py; the schedule is set per
# dataset) and runtime (../gan_runtime.py).
_base_ = ['../schedules/adam_iter_gan.py', '../gan_runtime.py']
model_name = 'amgan_cr'

model = dict(
    type='GANRestorer',
    generator=dict(type='AMGANCRGenerator', in_channels=3, out_channels=3),
    discriminator=dict(type='PatchDiscriminator', in_channels=3, out_channels=3),
    conditional=True,  # D sees (generator input, image)
    adversarial='logistic',
    adversarial_weight=0.1,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=10.0),
    attention_loss=dict(type='MSELoss'),
    attention_weight=10.0,
    # M = clip(sum(gt - cloudy), 0, attention_upper) in 0-255 units (docs/models.md §1).
    attention_upper=1.0,
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', ),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))
