# SpA-GAN on Sen2_MTC_New: the collection's recipe (docs/models.md §1.4). D: logistic GAN loss on the
# conditional PatchGAN; G: GAN + 100 x L1 + 1 x MSE(attention, M); D is stepped first.
# Networks and losses work on [0, 1] images as officially (network_range); predictions are
# mapped back to [-1, 1].
_base_ = [
    '../_base_/datasets/sen2mtc_new.py',
    '../_base_/schedules/adam_iter_gan.py',
    '../_base_/gan_runtime.py',
]
model_name = 'spagan'

model = dict(
    type='GANRestorer',
    generator=dict(type='SpAGANGenerator', in_channels=4, out_channels=3),
    discriminator=dict(type='PatchDiscriminator', in_channels=4, out_channels=3),
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
    input_keys=('cloudy', ),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Mono-temporal Sen2_MTC_New: only the cloudy date _0 (dataset option mono_temporal,
# docs/datasets.md §5.3). Inputs are packed 1xCxHxW; the framework folds time into channels.
# The cloudy image keeps its 4 bands (R, G, B, NIR); the target is R, G, B.
train_dataloader = dict(dataset=dict(mono_temporal=0))
val_dataloader = dict(dataset=dict(mono_temporal=0))
test_dataloader = dict(dataset=dict(mono_temporal=0))

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 2,380 training
# images / 2 = 1,190 iterations per epoch -> 238,000 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
