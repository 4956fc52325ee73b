# Smoke test of AMGAN-CR (configs/amgan_cr/README.md): the AMGAN-CR recipe with tiny widths on
# the synthetic CUHK-CR2 of ./_base_/cuhkcr2_synthetic.py, 20 iterations, a checkpoint every 10.
# Checks that the whole path runs, not what the model scores.
_base_ = ['../_base_/models/amgan_cr.py', './_base_/cuhkcr2_synthetic.py']

model = dict(generator=dict(in_channels=4, out_channels=4, features=1),
             discriminator=dict(in_channels=4, out_channels=4, features=1))
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=False))  # as the recipe
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
