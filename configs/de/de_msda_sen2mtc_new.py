# DE-MSDA on Sen2_MTC_New: DE with a trained MSDA-CR generator as the reference network E.
# Reported: none (the DE paper has no Sen2_MTC_New experiment).
# Train (all three stages, resumable; work_dirs/de_msda_sen2mtc_new/<stage>/):
#   python tools/train.py configs/msda_cr/msda_cr_sen2mtc_new.py      # the reference network first
#   python tools/train.py configs/de/de_msda_sen2mtc_new.py
# Test the final model:
#   python tools/test.py configs/de/de_msda_sen2mtc_new.py \
#       work_dirs/de_msda_sen2mtc_new/stage3_joint/iter_20000.pth
# NOTE: runs once DiffusionEnhancement folds the time axis of its 1xCxHxW cloudy input
# (as GANRestorer does); see configs/de/_base_/de_sen2mtc_new.py.
_base_ = ['./_base_/de_sen2mtc_new.py']
model_name = 'de_msda'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MSDACRGenerator', in_channels=3),
    # The final checkpoint of configs/msda_cr/msda_cr_sen2mtc_new.py (iter_<its max_iters>.pth).
    reference_checkpoint='work_dirs/msda_cr_sen2mtc_new/iter_238000.pth',
    reference_train_config='configs/msda_cr/msda_cr_sen2mtc_new.py',
    # The MSDA-CR generator ends in a sigmoid: [0, 1] in and out, as in the official DE.
    reference_input_range='zero_one',
    reference_output_index=-1)
