# DE on Sen2_MTC_New: a crbench extension, the DE paper has no Sen2_MTC_New experiment.
# DE is single-image, and so are its reference networks (MemoryNet, MSDA-CR: as many output
# bands as input bands), so DE sees what configs/{memorynet,msda_cr}/*_sen2mtc_new.py train the
# reference on: the cloudy date _0 only (mono_temporal=0) as R, G, B, and the RGB target.
# The dataset packs that image as 1xCxHxW (a time axis of one); the framework must fold it
# (see crbench/models/restorers/gan.py: fold_time).
# Differences from the DE recipe, both forced by the T axis of the arrays: stage 1 trains on
# 256x256 images (batch 16) because MatlabResize takes HxWxC arrays only (no 64x64 coarse
# stage), and the augmentation is the dataset's time-consistent RandomFlipRotate90 instead of
# DE's horizontal flip. The stages are otherwise ./de_schedule.py's.
_base_ = ['../../_base_/datasets/sen2mtc_new_mono_rgb.py', './de_schedule.py']

train_dataloader = dict(batch_size=16)
stages = [dict(_base_.stages[0], name='stage1_diffusion_256', train_pipeline='train_pipeline',
               cfg_options=dict(_base_.stages[0].cfg_options,
                                train_dataloader=dict(batch_size=16))),
          *_base_.stages[1:]]
