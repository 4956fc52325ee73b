# DE on RICE1 (3 bands R, G, B): data, schedule and the three training stages
# (DE Sec. IV-D and V-B). configs/de/de_{memorynet,msda}_rice1.py add the reference network.
_base_ = ['../../_base_/datasets/rice1.py', './de_framework.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3))

# DE trains on the whole image resized with MATLAB bicubic (no crop) plus a random horizontal
# flip (docs/models.md §2.4): 512 -> 64 in stage 1 (batch 64), 512 -> 256 in stages 2-3 (batch 16).
# Testing uses the dataset's 256x256 test pipeline (no flip).
train_pipeline = [
    {{_base_.load_rgb}},
    dict(type='MatlabResize', scale=0.5),
    dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RescaleToSymmetric', in_range=(0, 255)),
    dict(type='PackCRInputs'),
]
train_pipeline_64 = [
    {{_base_.load_rgb}},
    dict(type='MatlabResize', size=(64, 64)),
    dict(type='PairedRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RescaleToSymmetric', in_range=(0, 255)),
    dict(type='PackCRInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
train_cfg = dict(max_iters=20000, val_interval=5000)  # = stage 3, the final model

stages = [
    # 1: pure diffusion, CNP only, DE Eq. 7, 64x64 images.
    dict(name='stage1_diffusion',
         cfg_options=dict(model=dict(stage=1, fusion='none'),
                          train_dataloader=dict(batch_size=64,
                                                dataset=dict(pipeline=train_pipeline_64)),
                          train_cfg=dict(max_iters=40000, val_interval=10000))),
    # 2: CNP locked, WA trained with DE Eq. 16 at 256x256; the WA is new (zero W at start).
    dict(name='stage2_wa', new_keys=['weight_net.'],
         cfg_options=dict(model=dict(stage=2, fusion='wa'),
                          train_dataloader=dict(batch_size=16,
                                                dataset=dict(pipeline=train_pipeline)),
                          train_cfg=dict(max_iters=10000, val_interval=5000))),
    # 3: joint fine-tuning, DE Eq. 17.
    dict(name='stage3_joint',
         cfg_options=dict(model=dict(stage=3, fusion='wa'),
                          train_dataloader=dict(batch_size=16,
                                                dataset=dict(pipeline=train_pipeline)),
                          train_cfg=dict(max_iters=20000, val_interval=5000))),
]
