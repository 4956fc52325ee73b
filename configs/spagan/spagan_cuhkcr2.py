# SpA-GAN on CUHK-CR2: the collection's recipe (docs/models.md §1.4). D: logistic GAN loss on the
# conditional PatchGAN; G: GAN + 100 x L1 + 1 x MSE(attention, M); D is stepped first.
# Networks and losses work on [0, 1] images as officially (network_range); predictions are
# mapped back to [-1, 1].
_base_ = [
    '../_base_/datasets/cuhk_cr2.py',
    '../_base_/schedules/adam_iter_gan.py',
    '../_base_/gan_runtime.py',
]
model_name = 'spagan'

model = dict(
    type='GANRestorer',
    generator=dict(type='SpAGANGenerator', in_channels=4, out_channels=4),
    discriminator=dict(type='PatchDiscriminator', in_channels=4, out_channels=4),
    conditional=True,  # D sees (generator input, image)
    adversarial='logistic',
    adversarial_weight=1.0,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=100.0),
    attention_loss=dict(type='MSELoss'),
    attention_weight=1.0,
    attention_upper=1.0,  # M = clip(sum(gt - cloudy), 0, 1.0) in 0-255 units (docs/models.md §1)
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', ),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 448 training
# images / 2 = 224 iterations per epoch -> 44,800 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=44800, val_interval=2240)
default_hooks = dict(checkpoint=dict(interval=2240))
