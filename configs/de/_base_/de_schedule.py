# DE's three training stages (DE Sec. IV-D and V-B; crbench/engine/multi_stage.py), written once
# for every dataset: a stage names its training pipeline by the config key that holds it, so
# ./de_<dataset>.py defines `train_pipeline` (256x256, stages 2-3 and testing size) and
# `train_pipeline_64` (the 64x64 coarse stage 1).
# Iteration counts are crbench's choice: the paper gives none and the official script runs until
# stopped (lr_anneal_steps 0).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=5000)  # = stage 3

stages = [
    # 1: pure diffusion, CNP only, DE Eq. 7, 64x64 images.
    dict(name='stage1_diffusion', train_pipeline='train_pipeline_64',
         cfg_options=dict(model=dict(stage=1, fusion='none'),
                          train_dataloader=dict(batch_size=64),
                          train_cfg=dict(max_iters=40000, val_interval=10000))),
    # 2: CNP locked, WA trained with DE Eq. 16 at 256x256; the WA is new (zero W at start).
    dict(name='stage2_wa', new_keys=['weight_net.'], train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=2, fusion='wa'),
                          train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=10000, val_interval=5000))),
    # 3: joint fine-tuning, DE Eq. 17.
    dict(name='stage3_joint', train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=3, fusion='wa'),
                          train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=20000, val_interval=5000))),
]
