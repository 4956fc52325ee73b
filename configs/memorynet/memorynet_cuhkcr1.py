# MemoryNet on CUHK-CR1: the CUHK-CR2 recipe on the CUHK-CR1 folder.
# 534 training images / batch 2 = 267 iterations per epoch -> 200 epochs = 53,400 iterations.
_base_ = ['./memorynet_cuhkcr2.py']
dataset_name = 'CUHK-CR1'
data_root = 'data/C-CUHK/CUHK-CR1'
train_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
val_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters=53400, val_interval=2670)
default_hooks = dict(checkpoint=dict(interval=2670))
