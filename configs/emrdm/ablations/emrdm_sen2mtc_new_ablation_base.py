# Shared setting of the EMRDM ablations on Sen2_MTC_New (paper Sec. 4.3, Tables 2 and 3):
# the main Sen2_MTC_New configuration (500 epochs) sampled with the deterministic Euler sampler,
# N = 5, sigma_min 0.001, sigma_max 100, sigma_data 1.0.
# The released ablation yamls train with batch 1 on one GPU (500 epochs = 1,190,000 iterations);
# here the schedule of ../emrdm_sen2mtc_new.py is kept (effective batch 32, 37,500 iterations).
# The ablations inherit this file; it inherits the bases of ../emrdm_sen2mtc_new.py directly
# (within three levels of inheritance).
_base_ = ['../../_base_/models/emrdm_thdit.py', '../../_base_/datasets/sen2mtc_new.py',
          '../_base_/emrdm_runtime.py']
train_dataloader = dict(batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=37500, val_interval=75)

model = dict(sampler=dict(_delete_=True, type='EulerSampler', num_steps=5))
