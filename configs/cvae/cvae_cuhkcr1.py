# CVAE on CUHK-CR1: the CUHK-CR2 recipe (configs/cvae/cvae_cuhkcr2.py) on the
# CUHK-CR1 folder.
_base_ = ['./cvae_cuhkcr2.py']
dataset_name = 'CUHK-CR1'
data_root = 'data/C-CUHK/CUHK-CR1'
train_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
val_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
test_dataloader = val_dataloader

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 534 training
# images / 2 = 267 iterations per epoch -> 53,400 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=53400, val_interval=2670)
default_hooks = dict(checkpoint=dict(interval=2670))
