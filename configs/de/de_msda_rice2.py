# DE-MSDA on RICE2: DE with a trained MSDA-CR generator as the reference network E.
# Reported: DE Table V: PSNR 33.598, SSIM 0.8842, LPIPS 0.0452.
# Train (all three stages, resumable; work_dirs/de_msda_rice2/<stage>/):
#   python tools/train.py configs/msda_cr/msda_cr_rice2.py      # the reference network first
#   python tools/train.py configs/de/de_msda_rice2.py
# Test the final model:
#   python tools/test.py configs/de/de_msda_rice2.py \
#       work_dirs/de_msda_rice2/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_rice2.py', './_base_/de_msda.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3),
             reference=dict(in_channels=3),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/msda_cr_rice2/iter_58800.pth',
             reference_train_config='configs/msda_cr/msda_cr_rice2.py')
