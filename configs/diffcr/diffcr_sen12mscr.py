# DiffCR on SEN12MS-CR (EMRDM Table 1(c)). The DiffCR authors trained this model inside the
# UnCRtainTS code base and published only its weights; the DiffCR repository has no
# SEN12MS-CR config. crbench's adaptation: one date, condition = cat(S1 VV/VH, cloudy S2)
# = 15 bands, noisy image and prediction = 13 S2 bands, the Sen2_MTC_New network and
# optimisation otherwise (./_base_/diffcr_runtime.py).
# Schedule: not published; 100,000 iterations of batch 8 (about 7.5 epochs of 107,143).
_base_ = ['../_base_/models/diffcr.py', '../_base_/datasets/sen12mscr.py',
          './_base_/diffcr_runtime.py']

model = dict(network=dict(in_channels=13, cond_channels=15, out_channels=13), use_sar=True)
train_dataloader = dict(batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
