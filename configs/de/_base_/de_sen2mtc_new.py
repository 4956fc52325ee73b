# DE on Sen2_MTC_New: a crbench extension, the DE paper has no Sen2_MTC_New experiment.
# DE is single-image, and so are its reference networks (MemoryNet, MSDA-CR: as many output
# bands as input bands), so DE sees what configs/{memorynet,msda_cr}/*_sen2mtc_new.py train the
# reference on: the cloudy date _0 only (mono_temporal=0) as R, G, B, and the RGB target.
# The dataset packs that image as 1xCxHxW (a time axis of one); the framework must fold it
# (see crbench/models/restorers/gan.py: fold_time).
# Differences from the DE recipe, both forced by the T axis of the arrays: stage 1 trains on
# 256x256 images (batch 16) because MatlabResize takes HxWxC arrays only (no 64x64 coarse
# stage), and the augmentation is the dataset's time-consistent RandomFlipRotate90 instead of
# DE's horizontal flip. configs/de/de_{memorynet,msda}_sen2mtc_new.py add the reference.
_base_ = ['../../_base_/datasets/sen2mtc_new_mono_rgb.py', './de_framework.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3))

train_pipeline = _base_.train_pipeline  # for the stages below
train_dataloader = dict(batch_size=16)
train_cfg = dict(max_iters=20000, val_interval=5000)  # = stage 3, the final model

stages = [
    # 1: pure diffusion, CNP only, DE Eq. 7 (at 256x256 here, see above).
    dict(name='stage1_diffusion_256',
         cfg_options=dict(model=dict(stage=1, fusion='none'),
                          train_dataloader=dict(batch_size=16,
                                                dataset=dict(pipeline=train_pipeline)),
                          train_cfg=dict(max_iters=40000, val_interval=10000))),
    # 2: CNP locked, WA trained with DE Eq. 16; the WA is new (zero W at start).
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
