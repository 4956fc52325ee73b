# DE Table VIII, No. 1 (RICE2, MSDA-CR reference): the diffusion model after stage 1 only
# (64x64 training), tested at 256x256 as pure diffusion (no reference, no WA).
# Reported: PSNR 31.408, SSIM 0.8454, LPIPS 0.0518.
# This is stage 1 of configs/de/de_msda_rice2.py: test that run's stage-1 checkpoint with
#   python tools/test.py configs/de/ablations/de_msda_rice2_t8_no1_stage1_only.py \
#       work_dirs/de_msda_rice2/stage1_diffusion/iter_40000.pth
# or train this stage alone with tools/train.py.
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t8_no1'
model_display = 'DE-MSDA, stage 1 only (Table VIII No. 1)'

model = dict(stage=1, fusion='none')
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=_base_.train_pipeline_64))
train_cfg = dict(max_iters=40000, val_interval=10000)
stages = [_base_.stages[0]]
