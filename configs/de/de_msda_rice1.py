# DE-MSDA on RICE1: DE with a trained MSDA-CR generator as the reference network E.
# Reported: DE Table V: PSNR 35.357, SSIM 0.9878, LPIPS 0.0061.
# Train (all three stages, resumable; work_dirs/de_msda_rice1/<stage>/):
#   python tools/train.py configs/msda_cr/msda_cr_rice1.py      # the reference network first
#   python tools/train.py configs/de/de_msda_rice1.py
# Test the final model:
#   python tools/test.py configs/de/de_msda_rice1.py \
#       work_dirs/de_msda_rice1/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_rice1.py', './_base_/de_msda.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3),
             reference=dict(in_channels=3),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/msda_cr_rice1/iter_40000.pth',
             reference_train_config='configs/msda_cr/msda_cr_rice1.py')
