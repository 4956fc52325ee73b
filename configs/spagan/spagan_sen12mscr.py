# SpA-GAN on SEN12MS-CR: the collection's recipe (docs/models.md §1.4). D: logistic GAN loss on the
# conditional PatchGAN; G: GAN + 100 x L1 + 1 x MSE(attention, M); D is stepped first.
# Networks and losses work on [0, 1] images as officially (network_range); predictions are
# mapped back to [-1, 1].
_base_ = [
    '../_base_/datasets/sen12mscr.py',
    '../_base_/schedules/adam_iter_gan.py',
    '../_base_/gan_runtime.py',
]
model_name = 'spagan'

# SAR is concatenated to the cloudy image (13 + 2 = 15 bands in, 13 out), as the
# EMRDM condition; the generator and the conditional D accept different in/out bands.

model = dict(
    type='GANRestorer',
    generator=dict(type='SpAGANGenerator', in_channels=15, out_channels=13),
    discriminator=dict(type='PatchDiscriminator', in_channels=15, out_channels=13),
    conditional=True,  # D sees (generator input, image)
    adversarial='logistic',
    adversarial_weight=1.0,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=100.0),
    attention_loss=dict(type='MSELoss'),
    attention_weight=1.0,
    # M = clip(sum(gt - cloudy), 0, 1) in 0-255 units of the [-1, 1] range, computed from
    # the batch (first bands of the cloudy image), as no 8-bit loader exists for it.
    attention_upper=1.0,
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', 'sar'),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Schedule (crbench's choice; no paper trains this model on SEN12MS-CR with the
# collection's code, whose 200 epochs would be 10.7M iterations here): batch 2 as the
# collection, 100,000 iterations = 200,000 samples, about 1.9 epochs of the leak-free
# train split (107,143 images). Validation and checkpoints every 10,000 iterations;
# configs/de/de_*_sen12mscr.py read the final iter_100000.pth.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
default_hooks = dict(checkpoint=dict(interval=10000))
