# Smoke test of MemoryNet (configs/memorynet/README.md): the MemoryNet recipe with tiny widths
# on the synthetic CUHK-CR2 of ./_base_/cuhkcr2_synthetic.py, 20 iterations, a checkpoint every
# 10; about a minute on one CPU core. It is also DE's smoke reference prior
# (./de_smoke_cuhkcr2.py reads work_dirs/memorynet_smoke_cuhkcr2/iter_20.pth).
# Checks that the whole path runs, not what the model scores.
_base_ = ['../_base_/models/memorynet.py', './_base_/cuhkcr2_synthetic.py']

model = dict(generator=dict(in_channels=4, n_feat=4, scale_unetfeats=1, scale_orsnetfeats=1,
                            num_cab=1))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
