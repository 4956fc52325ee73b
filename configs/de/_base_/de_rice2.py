# DE on RICE2 (3 bands R, G, B): the dataset, DE's training pipelines and the three stages
# (./de_schedule.py).
# RICE2 is the RICE1 layout with version 2, as in configs/_base_/datasets/rice2.py; it is set here
# on rice1.py so that configs/de/ablations/ stay within three levels of inheritance
# (tests/configs/test_config_tree.py checks that the datasets are those of rice2.py).
_base_ = ['../../_base_/datasets/rice1.py', './de_schedule.py']
version = 2
val_dataloader = dict(dataset=dict(version=version))
test_dataloader = val_dataloader

# DE trains on the whole image resized with MATLAB bicubic (no crop) plus a random horizontal
# flip (docs/models.md §2.4): the dataset's training pipeline (load, 512 -> 256, scaling, packing)
# with the flip before the scaling; stage 1 resizes 512 -> 64 instead. Testing uses the
# dataset's 256x256 test pipeline (no flip).
train_pipeline = [*_base_.train_pipeline[:2],
                  dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
                  *_base_.train_pipeline[2:]]
train_pipeline_64 = [train_pipeline[0], dict(type='MatlabResize', size=(64, 64)),
                     *train_pipeline[2:]]
train_dataloader = dict(batch_size=16, dataset=dict(version=version, pipeline=train_pipeline))
