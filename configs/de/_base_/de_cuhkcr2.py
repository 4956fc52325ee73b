# DE on CUHK-CR2 (4 bands R, G, B, NIR): the dataset, DE's training pipelines and the three
# stages (./de_schedule.py).
_base_ = ['../../_base_/datasets/cuhk_cr2.py', './de_schedule.py']

# DE trains on the whole image resized with MATLAB bicubic (no crop) plus a random horizontal
# flip (docs/models.md §2.4): the dataset's training pipeline (load, 512 -> 256, scaling, packing)
# with the flip before the scaling; stage 1 resizes 512 -> 64 instead. Testing uses the
# dataset's 256x256 test pipeline (no flip).
train_pipeline = [*_base_.train_pipeline[:2],
                  dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
                  *_base_.train_pipeline[2:]]
train_pipeline_64 = [train_pipeline[0], dict(type='MatlabResize', size=(64, 64)),
                     *train_pipeline[2:]]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
