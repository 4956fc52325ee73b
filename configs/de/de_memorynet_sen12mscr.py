# DE-MemoryNet on SEN12MS-CR: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: none (the DE paper has no SEN12MS-CR experiment).
# Train (all three stages, resumable; work_dirs/de_memorynet_sen12mscr/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_sen12mscr.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_sen12mscr.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_sen12mscr.py \
#       work_dirs/de_memorynet_sen12mscr/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_sen12mscr.py', './_base_/de_memorynet.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=13), weight_net=dict(num_bands=13),
             reference=dict(in_channels=13),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/memorynet_sen12mscr/iter_100000.pth',
             reference_train_config='configs/memorynet/memorynet_sen12mscr.py')
