# DE Table IX, row 3 (RICE2, MSDA-CR reference): coarse-to-fine diffusion training (64x64, then
# 256x256) without WA, tested with the reference prior fused by a fixed W = 0.5.
# Reported: PSNR 33.215, SSIM 0.8835, LPIPS 0.0457.
# Stage 1 is the full recipe's stage 1 (64x64, batch 64); stage 2 fine-tunes the CNP alone
# (DE Eq. 7) on 256x256 images (batch 16) for as many iterations as the recipe's stage 3.
# Stage 1 can be shared with configs/de/de_msda_rice2.py: copy (or link) its
# work_dirs/de_msda_rice2/stage1_diffusion folder into this config's work dir.
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t9_r3'
model_display = 'DE-MSDA ablation: prior (W = 0.5), coarse-to-fine, no WA (Table IX row 3)'

model = dict(stage=1, fusion='fixed', fixed_weight=0.5)
train_cfg = dict(max_iters=20000, val_interval=5000)
stages = [
    _base_.stages[0],
    dict(name='stage2_diffusion_256', train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=1, fusion='fixed'), train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=20000, val_interval=5000))),
]
