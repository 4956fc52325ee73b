# EMRDM on Sen2_MTC_New (multi-temporal, L = 3), EMRDM paper Table 5 column "Sen2_MTC_New" and
# docs/models.md §3.4 (sen2_mtc_new.yaml, ablation/alpha3.0.yaml): the TemporalHDiT EMRDM of
# configs/_base_/models/emrdm_thdit.py (148,878,322 parameters, Table 5 "148.88M").
# Optimisation and EMA: ./_base_/emrdm_runtime.py.
#
# Schedule: Table 5 trains 500 epochs with batch 8 per GPU on 4 GPUs (effective batch 32):
# ceil(2,380 / 32) = 75 iterations per epoch -> 500 x 75 = 37,500 iterations; validation
# every epoch (alpha3.0.yaml). Table 5 lists 64,141 "Training Steps", which does not follow
# from 500 epochs at this batch; set max_iters=64141 to match that count instead.
# Launch on 4 GPUs, or set batch_size=32 on one.
_base_ = ['../_base_/models/emrdm_thdit.py', '../_base_/datasets/sen2mtc_new.py',
          './_base_/emrdm_runtime.py']

train_dataloader = dict(batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=37500, val_interval=75)
