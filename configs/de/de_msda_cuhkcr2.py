# DE-MSDA on CUHK-CR2: DE with a trained MSDA-CR generator as the reference network E.
# Reported: DE Table VI: PSNR 23.968, SSIM 0.6737, LPIPS 0.0372.
# Train (all three stages, resumable; work_dirs/de_msda_cuhkcr2/<stage>/):
#   python tools/train.py configs/msda_cr/msda_cr_cuhkcr2.py      # the reference network first
#   python tools/train.py configs/de/de_msda_cuhkcr2.py
# Test the final model:
#   python tools/test.py configs/de/de_msda_cuhkcr2.py \
#       work_dirs/de_msda_cuhkcr2/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_cuhkcr2.py', './_base_/de_msda.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=4), weight_net=dict(num_bands=4),
             reference=dict(in_channels=4),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/msda_cr_cuhkcr2/iter_44800.pth',
             reference_train_config='configs/msda_cr/msda_cr_cuhkcr2.py')
