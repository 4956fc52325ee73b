# DE Table IX, row 2 (RICE2, MSDA-CR reference): row 1's diffusion model (256x256 only), tested
# with the reference prior fused by a fixed W = 0.5 (no WA network).
# Reported: PSNR 33.239, SSIM 0.8832, LPIPS 0.0457.
# Training is identical to row 1 (the fusion only acts at inference), so row 1's checkpoint can
# be tested directly:
#   python tools/test.py configs/de/ablations/de_msda_rice2_t9_r2_prior_fixed.py \
#       work_dirs/de_msda_rice2_t9_r1_no_prior/stage1_diffusion_256/iter_60000.pth
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t9_r2'
model_display = 'DE-MSDA ablation: prior (W = 0.5), no coarse-to-fine, no WA (Table IX row 2)'

model = dict(stage=1, fusion='fixed', fixed_weight=0.5)
train_cfg = dict(max_iters=60000, val_interval=10000)  # as row 1
stages = [
    dict(name='stage1_diffusion_256', train_pipeline='train_pipeline',
         cfg_options=dict(model=dict(stage=1, fusion='fixed'), train_dataloader=dict(batch_size=16),
                          train_cfg=dict(max_iters=60000, val_interval=10000))),
]
