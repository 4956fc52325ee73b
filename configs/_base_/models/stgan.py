# STGAN (Sarukkai et al., WACV 2020), ermongroup/STGAN: the command of its README,
# `--model temporal_branched_ir --netG unet_256_independent --input_nc 4` with that model's
# defaults (norm batch, no dropout: the branched U-Net never passes it on, output 3 bands,
# basic 70x70 PatchGAN on the 3 x 4 input bands + 3 output bands). Generator 93,480,579
# parameters (its three encoder branches share weights officially), discriminator 2,777,921.
# Losses (pix2pix): vanilla GAN (BCE with logits = crbench's logistic loss) + 100 x L1; D is
# stepped first, then G. Officially D's loss is (real + fake) / 2; GANRestorer sums them,
# which Adam's update does not see (up to its epsilon).
_base_ = ['../gan_runtime.py']
model_name = 'stgan'

model = dict(
    type='GANRestorer',
    generator=dict(type='STGANGenerator', in_channels=4, out_channels=3, num_frames=3, ngf=64,
                   norm='batch'),
    discriminator=dict(type='STGANDiscriminator', in_channels=3 * 4 + 3, ndf=64, norm='batch'),
    conditional=True,  # D sees (the three dates folded into channels, image)
    adversarial='logistic',
    adversarial_weight=1.0,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=100.0),
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', ),
    network_range=(-1.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))
