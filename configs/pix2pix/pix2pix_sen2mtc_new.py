# Pix2Pix on Sen2_MTC_New (docs/datasets.md §5), multi-temporal: configs/_base_/models/pix2pix.py.
# How the reporting papers ran it: the number in leaderboard/reported.csv (EMRDM Table 1(d)) is
# cited from the CTGAN/PMAA/DiffCR papers, none of which publishes its baseline code. The
# public multi-temporal pix2pix those papers build on is the one of ermongroup/STGAN
# (models/temporal_ir_model.py; CTGAN's GAN loss and its 3 x 4 + out discriminator input come
# from the same repository): the three cloudy dates (R, G, B, NIR) concatenated on channels
# (12) into the U-Net-256, output R, G, B (its output_nc default 3), D on 12 + 3 = 15 channels,
# norm 'batch', vanilla GAN, lambda_L1 100, no image pool. That setting is followed here.
_base_ = ['../_base_/models/pix2pix.py', '../_base_/datasets/sen2mtc_new.py']

model = dict(generator=dict(in_channels=3 * 4, out_channels=3),
             discriminator=dict(in_channels=3 * 4 + 3))

# Schedule of the reference (STGAN's and junyanz's defaults): batch 1, 100 epochs at the
# initial lr then 100 epochs of linear decay (factor 1 - (epoch + 1 - 100) / 101 per epoch,
# stepped per iteration here): 200 x 2,380 = 476,000 iterations; a checkpoint (and
# validation) every 5 epochs (save_epoch_freq 5).
# Differences from the reference data path: images are used at their 256 x 256 (no
# resize-to-286-and-random-crop jitter: Sen2_MTC_New is 256 px and 16-bit) with the dataset's
# flips / 90-degree rotations; testing uses eval mode (the reference's test.py keeps batch
# statistics and dropout unless --eval).
train_dataloader = dict(batch_size=1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=476000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
param_scheduler = [dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 101, by_epoch=False,
                        begin=238000, end=476000)]
