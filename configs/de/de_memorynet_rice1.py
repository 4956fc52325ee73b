# DE-MemoryNet on RICE1: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: DE Table V: PSNR 35.525, SSIM 0.9882, LPIPS 0.0055.
# Train (all three stages, resumable; work_dirs/de_memorynet_rice1/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_rice1.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_rice1.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_rice1.py \
#       work_dirs/de_memorynet_rice1/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_rice1.py']
model_name = 'de_memorynet'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MemoryNet', in_channels=3, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # The final checkpoint of configs/memorynet/memorynet_rice1.py (iter_<its max_iters>.pth).
    reference_checkpoint='work_dirs/memorynet_rice1/iter_40000.pth',
    reference_train_config='configs/memorynet/memorynet_rice1.py',
    # crbench's SupervisedRestorer trains MemoryNet on [-1, 1] tensors, in and out (the official
    # DE feeds its [0, 1]-trained MemoryNet (y + 1) / 2 instead: 'zero_one').
    reference_input_range='minus_one_one',
    reference_output_index=0)  # MemoryNet returns [stage3, stage2, stage1]
