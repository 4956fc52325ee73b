# UnCRtainTS L2 on SEN12MS-CR (mono-temporal, EMRDM Table 1(c) "UnCRtainTS L2", cited from the
# UnCRtainTS paper): the official mono-temporal model (train_reconstruct.py --pretrain, which
# forces input_t = n_head = 1 and no positional encoding and builds no L-TAE), SAR + cloudy S2
# in (2 + 13 = 15 bands, SAR first as in the official prepare_data_mono), 13 bands out,
# trained with the L2 loss (--loss l2: a mean head only). 518,541 parameters.
_base_ = [
    '../_base_/datasets/sen12mscr.py',
    '../_base_/models/uncrtaints.py',
    '../_base_/default_runtime.py',
]
model_name = 'uncrtaints_l2'

model = dict(
    generator=dict(in_channels=15, out_channels=13, covariance=None, mono_temporal=True,
                   n_head=1),
    # the official 'l2' criterion is nn.MSELoss on the scaled (x scale_by) images
    loss=dict(_delete_=True, type='MSELoss'),
    input_keys=('sar', 'cloudy'))

# Official recipe (README training command): Adam lr 1e-3 (torch defaults: betas (0.9, 0.999),
# no weight decay), ExponentialLR gamma 1.0 (a constant rate), batch 4, 20 epochs, full
# 256 x 256 patches without augmentation. 20 epochs of the leak-free train split (107,143
# patches) at batch 4: 26,786 iterations per epoch -> 535,720 iterations; validation and
# checkpoints every epoch (the official script validates every epoch).
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=535720, val_interval=26786)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=26786))
