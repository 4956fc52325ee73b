# UnCRtainTS L2 on SEN12MS-CR (mono-temporal; EMRDM Table 1(c) "UnCRtainTS L2", cited from the
# UnCRtainTS paper): configs/_base_/models/uncrtaints.py as the official mono-temporal model
# (train_reconstruct.py --pretrain forces input_t = n_head = 1 and no positional encoding and
# builds no L-TAE): SAR + cloudy S2 in (2 + 13 = 15 bands, SAR first as in the official
# prepare_data_mono), 13 bands out, trained with the L2 loss (--loss l2: a mean head only).
# 518,541 parameters.
_base_ = ['../_base_/models/uncrtaints.py', '../_base_/datasets/sen12mscr.py']
model_name = 'uncrtaints_l2'

model = dict(
    generator=dict(in_channels=15, out_channels=13, covariance=None, mono_temporal=True,
                   n_head=1),
    # the official 'l2' criterion is nn.MSELoss on the scaled (x scale_by) images
    loss=dict(_delete_=True, type='MSELoss'),
    input_keys=('sar', 'cloudy'))

# Batch 4, 20 epochs of the leak-free train split (107,143 patches): 26,786 iterations per
# epoch -> 535,720 iterations; validation and checkpoints every epoch (as the official script).
train_dataloader = dict(batch_size=4)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=535720, val_interval=26786)
default_hooks = dict(checkpoint=dict(interval=26786))
