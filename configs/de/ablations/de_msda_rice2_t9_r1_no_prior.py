# DE Table IX, row 1 (RICE2): pure diffusion trained on 256x256 images only (no coarse-to-fine),
# tested without the reference prior and without WA.
# Reported: PSNR 32.667, SSIM 0.8680, LPIPS 0.0480.
# One stage. The number of iterations is crbench's choice (the paper gives none): 60,000, the
# CNP's total over stages 1 and 3 of the full recipe.
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t9_r1'
model_display = 'DE-MSDA ablation: no prior, no coarse-to-fine, no WA (Table IX row 1)'

model = dict(stage=1, fusion='none')
train_cfg = dict(max_iters=60000, val_interval=10000)
stages = [
    dict(name='stage1_diffusion_256', train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=1, fusion='none'), train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=60000, val_interval=10000))),
]
