# Smoke test of UnCRtainTS (configs/uncrtaints/README.md): the mono-temporal UnCRtainTS recipe
# with the aleatoric head (diagonal Gaussian NLL), tiny widths, on the synthetic CUHK-CR2 of
# ./_base_/cuhkcr2_synthetic.py (4 bands in and out), 20 iterations, a checkpoint every 10;
# the test writes uncertainty maps to <work_dir>/uncertainty/. Checks that the whole path
# runs, not what the model scores.
_base_ = ['../_base_/models/uncrtaints.py', './_base_/cuhkcr2_synthetic.py']
model_name = 'uncrtaints'

model = dict(generator=dict(in_channels=4, out_channels=4, covariance='diag',
                            mono_temporal=True, n_head=1, width=8, decoder_blocks=2))
train_dataloader = dict(batch_size=4)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
custom_hooks = [dict(type='NonFiniteLossHook', policy='stop'),
                dict(type='UncertaintyMapHook', max_images=4)]
