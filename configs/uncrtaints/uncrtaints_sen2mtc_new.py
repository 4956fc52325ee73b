# UnCRtainTS on Sen2_MTC_New (multi-temporal, 3 dates; EMRDM Table 1(d) "UnCRtainTS", cited
# from the DiffCR paper, which retrained it): configs/_base_/models/uncrtaints.py with the
# L-TAE (16 heads, d_model 256, d_k 4) and the aleatoric head (diagonal covariance, Gaussian
# NLL: the official defaults --loss MGNLL --covmode diag). Per date 4 bands in (R, G, B, NIR),
# 3 out (RGB means) + 3 variances. 566,022 parameters (the official build with its band
# constant set to 3).
# Sen2_MTC_New has no acquisition dates, so the dates' positional encoding is off (the
# official model needs dates for it; it has no parameters). Test runs save the predicted
# uncertainty maps (UncertaintyMapHook, <work_dir>/uncertainty/).
_base_ = ['../_base_/models/uncrtaints.py', '../_base_/datasets/sen2mtc_new.py']

model = dict(
    generator=dict(in_channels=4, out_channels=3, covariance='diag', mono_temporal=False,
                   n_head=16, positional_encoding=False),
    input_keys=('cloudy', ))

# The official recipe (batch 4, 20 epochs; neither paper gives another for Sen2_MTC_New):
# 2,380 samples / 4 = 595 iterations per epoch -> 11,900 iterations; validation and
# checkpoints every epoch.
train_dataloader = dict(batch_size=4)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=11900, val_interval=595)
default_hooks = dict(checkpoint=dict(interval=595))
custom_hooks = [dict(type='NonFiniteLossHook', policy='stop'),
                dict(type='UncertaintyMapHook', max_images=8)]
