# DE-MemoryNet on Sen2_MTC_New: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E.
# Reported: none (the DE paper has no Sen2_MTC_New experiment).
# Train (all three stages, resumable; work_dirs/de_memorynet_sen2mtc_new/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_sen2mtc_new.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_sen2mtc_new.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_sen2mtc_new.py \
#       work_dirs/de_memorynet_sen2mtc_new/stage3_joint/iter_20000.pth
# NOTE: runs once DiffusionEnhancement folds the time axis of its 1xCxHxW cloudy input
# (as GANRestorer does); see configs/de/_base_/de_sen2mtc_new.py.
_base_ = ['./_base_/de_sen2mtc_new.py', './_base_/de_memorynet.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3),
             reference=dict(in_channels=3),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/memorynet_sen2mtc_new/iter_238000.pth',
             reference_train_config='configs/memorynet/memorynet_sen2mtc_new.py')
