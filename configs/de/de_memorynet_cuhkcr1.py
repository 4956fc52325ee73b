# DE-MemoryNet on CUHK-CR1: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: DE Table VI: PSNR 26.183, SSIM 0.7746, LPIPS 0.0290.
# Train (all three stages, resumable; work_dirs/de_memorynet_cuhkcr1/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_cuhkcr1.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_cuhkcr1.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_cuhkcr1.py \
#       work_dirs/de_memorynet_cuhkcr1/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_cuhkcr1.py']
model_name = 'de_memorynet'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MemoryNet', in_channels=4, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # The final checkpoint of configs/memorynet/memorynet_cuhkcr1.py (iter_<its max_iters>.pth).
    reference_checkpoint='work_dirs/memorynet_cuhkcr1/iter_53400.pth',
    reference_train_config='configs/memorynet/memorynet_cuhkcr1.py',
    # crbench's SupervisedRestorer trains MemoryNet on [-1, 1] tensors, in and out (the official
    # DE feeds its [0, 1]-trained MemoryNet (y + 1) / 2 instead: 'zero_one').
    reference_input_range='minus_one_one',
    reference_output_index=0)  # MemoryNet returns [stage3, stage2, stage1]
