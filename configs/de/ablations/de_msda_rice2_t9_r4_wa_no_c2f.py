# DE Table IX, row 4 (RICE2, MSDA-CR reference): reference prior and WA, without coarse-to-fine:
# the three stages of the full recipe, but stage 1 trains on 256x256 images (batch 16) too.
# Reported: PSNR 33.512, SSIM 0.8835, LPIPS 0.0466.
# (Row 5, everything, is configs/de/de_msda_rice2.py itself.)
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t9_r4'
model_display = 'DE-MSDA ablation: prior and WA, no coarse-to-fine (Table IX row 4)'

stages = [
    dict(name='stage1_diffusion_256', train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=1, fusion='none'), train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=40000, val_interval=10000))),
    *_base_.stages[1:],
]
