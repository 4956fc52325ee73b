# DE-MSDA on CUHK-CR2: DE with a trained MSDA-CR generator as the reference network E.
# Reported: DE Table VI: PSNR 23.968, SSIM 0.6737, LPIPS 0.0372.
# Train (all three stages, resumable; work_dirs/de_msda_cuhkcr2/<stage>/):
#   python tools/train.py configs/msda_cr/msda_cr_cuhkcr2.py      # the reference network first
#   python tools/train.py configs/de/de_msda_cuhkcr2.py
# Test the final model:
#   python tools/test.py configs/de/de_msda_cuhkcr2.py \
#       work_dirs/de_msda_cuhkcr2/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_cuhkcr2.py']
model_name = 'de_msda'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MSDACRGenerator', in_channels=4),
    # The final checkpoint of configs/msda_cr/msda_cr_cuhkcr2.py (iter_<its max_iters>.pth).
    reference_checkpoint='work_dirs/msda_cr_cuhkcr2/iter_44800.pth',
    reference_train_config='configs/msda_cr/msda_cr_cuhkcr2.py',
    # The MSDA-CR generator ends in a sigmoid: [0, 1] in and out, as in the official DE.
    reference_input_range='zero_one',
    reference_output_index=-1)
