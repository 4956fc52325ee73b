# Smoke test of MSDA-CR (configs/msda_cr/README.md): the MSDA-CR recipe with tiny widths on the
# synthetic CUHK-CR2 of ./_base_/cuhkcr2_synthetic.py, 20 iterations, a checkpoint every 10.
# Checks that the whole path runs, not what the model scores: without ImageNet VGG16 weights
# ($CRBENCH_VGG16_WEIGHTS or the torch hub cache) the perceptual term runs on a random VGG16
# (allow_random, with a warning); never report such a number.
_base_ = ['../_base_/models/msda_cr.py', './_base_/cuhkcr2_synthetic.py']

model = dict(generator=dict(in_channels=4, base_channels=4, growth_rate=1),
             discriminator=dict(in_channels=4, base_channels=2),
             pixel_losses=dict(perceptual=dict(allow_random=True)))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
