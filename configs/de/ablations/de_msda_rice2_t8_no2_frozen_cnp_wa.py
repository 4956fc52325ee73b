# DE Table VIII, No. 2 (RICE2, MSDA-CR reference): stage 1, then the WA trained at 256x256 with
# the diffusion model fixed (stage 2), tested with the WA fusion.
# Reported: PSNR 33.573, SSIM 0.8792, LPIPS 0.0465.
# These are stages 1-2 of configs/de/de_msda_rice2.py: test that run's stage-2 checkpoint with
#   python tools/test.py configs/de/ablations/de_msda_rice2_t8_no2_frozen_cnp_wa.py \
#       work_dirs/de_msda_rice2/stage2_wa/iter_10000.pth
# (No. 3, the joint fine-tuning, is configs/de/de_msda_rice2.py itself.)
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_t8_no2'
model_display = 'DE-MSDA, stages 1-2 (Table VIII No. 2)'

model = dict(stage=2, fusion='wa')
train_cfg = dict(max_iters=10000, val_interval=5000)
stages = _base_.stages[:2]
