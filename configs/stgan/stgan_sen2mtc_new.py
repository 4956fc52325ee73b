# STGAN on Sen2_MTC_New (three cloudy dates, R, G, B, NIR -> R, G, B):
# configs/_base_/models/stgan.py. The Sen2_MTC_New tables (CTGAN, PMAA, DiffCR papers; EMRDM
# Table 1(d)) report STGAN without naming its generator variant or settings; this config
# follows the official README's training command and the official defaults.
#
# Official schedule (pix2pix options): Adam lr 2e-4, betas (0.5, 0.999), no weight decay,
# batch 1, 100 epochs at constant lr then 100 epochs decaying linearly (per epoch, factor
# 1 - max(0, epoch + 1 - 100) / 101). Here: floor(2,380 / 1) = 2,380 iterations per epoch,
# 476,000 iterations, the same decay per iteration. The official loader resizes to 286 and
# crops 256 and flips; Sen2_MTC_New images are already 256 x 256 and crbench's Sen2_MTC_New
# pipeline (one flip / rotation per sample) is kept, as for every method on this dataset.
_base_ = ['../_base_/models/stgan.py', '../_base_/datasets/sen2mtc_new.py']

train_dataloader = dict(batch_size=1)
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper',
                   optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=476000, val_interval=23800)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 101, begin=238000,
                        end=476000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=23800))  # every 10 epochs
