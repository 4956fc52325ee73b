# The demo: the real MemoryNet configuration on a small synthetic CUHK-CR2 copy
# (64×64 on disk -> 32×32 after the MATLAB resize), trained for a few iterations
# on CPU. Only the schedule and data size differ from
# configs/memorynet/memorynet_cuhkcr2.py; the network and losses are the paper's.
_base_ = ['../memorynet/memorynet_cuhkcr2.py']

data_root = 'work_dirs/demo/data/C-CUHK/CUHK-CR2'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=40)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=40, max_keep_ckpts=1, save_best=None))
