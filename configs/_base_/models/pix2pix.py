# Pix2Pix (Isola et al., CVPR 2017), the reference implementation's recipe
# (junyanz/pytorch-CycleGAN-and-pix2pix, pix2pix model): U-Net-256 generator with batch norm
# and dropout, 70x70 PatchGAN discriminator on (input, image), crbench/models/reference/pix2pix.py.
# D first; vanilla GAN loss (BCE with logits = the softplus 'logistic' loss); G: GAN + 100 x L1.
# The reference halves D's loss; Adam's update does not depend on a constant loss factor
# (up to its eps), so GANRestorer's unhalved D loss trains the same.
# Adam lr 2e-4, betas (0.5, 0.999), no weight decay, for G and D.
# A concrete config sets the bands (generator in/out, discriminator in = their sum).
_base_ = ['../gan_runtime.py']
model_name = 'pix2pix'

model = dict(
    type='GANRestorer',
    generator=dict(type='Pix2PixUNetGenerator', in_channels=3, out_channels=3, ngf=64,
                   num_downs=8, dropout=True),
    discriminator=dict(type='Pix2PixPatchDiscriminator', in_channels=6, ndf=64, n_layers=3),
    conditional=True,  # D sees (generator input, image) stacked on channels
    adversarial='logistic',
    adversarial_weight=1.0,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=100.0),
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', ),
    network_range=(-1.0, 1.0),  # the reference normalises images to [-1, 1] (tanh output)
    data_preprocessor=dict(type='CRDataPreprocessor'))

_adam = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=_adam),
    discriminator=dict(type='OptimWrapper', optimizer=_adam))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
