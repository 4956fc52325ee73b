# Smoke test of CVAE (configs/cvae/README.md): the CVAE recipe with a tiny ViT built for the
# 32x32 images of the synthetic CUHK-CR2 (./_base_/cuhkcr2_synthetic.py; the recipe's 256 is
# only its default), 20 iterations, a checkpoint every 10.
# Checks that the whole path runs, not what the model scores.
_base_ = ['../_base_/models/cvae.py', './_base_/cuhkcr2_synthetic.py']

model = dict(generator=dict(in_channels=4, image_size=32, embed_dim=8, num_heads=2,
                            latent_dim=2))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
