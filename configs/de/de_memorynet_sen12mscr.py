# DE-MemoryNet on SEN12MS-CR: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: none (the DE paper has no SEN12MS-CR experiment).
# Train (all three stages, resumable; work_dirs/de_memorynet_sen12mscr/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_sen12mscr.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_sen12mscr.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_sen12mscr.py \
#       work_dirs/de_memorynet_sen12mscr/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_sen12mscr.py']
model_name = 'de_memorynet'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MemoryNet', in_channels=13, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # The final checkpoint of configs/memorynet/memorynet_sen12mscr.py (iter_<its max_iters>.pth).
    reference_checkpoint='work_dirs/memorynet_sen12mscr/iter_100000.pth',
    reference_train_config='configs/memorynet/memorynet_sen12mscr.py',
    # crbench's SupervisedRestorer trains MemoryNet on [-1, 1] tensors, in and out (the official
    # DE feeds its [0, 1]-trained MemoryNet (y + 1) / 2 instead: 'zero_one').
    reference_input_range='minus_one_one',
    reference_output_index=0)  # MemoryNet returns [stage3, stage2, stage1]
