# DiffCR on Sen2_MTC_New (EMRDM Table 1(d); DiffCR Table II): three cloudy dates, RGB of
# each (the official loader drops NIR), full 256 x 256 images (no crop), one random flip and
# 90-degree rotation per sample, as the official loader.
# Schedule: 3000 epochs with batch 8 (official config; 2 training samples are held out for
# validation there): 2,378 // 8 = 297 iterations per epoch (drop_last) -> 891,000
# iterations; the official code validates every 1000 epochs.
_base_ = ['../_base_/models/diffcr.py', '../_base_/datasets/sen2mtc_new.py',
          './_base_/diffcr_runtime.py']

model = dict(cond_bands=[0, 1, 2])
train_dataloader = dict(batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=891000, val_interval=297000)
