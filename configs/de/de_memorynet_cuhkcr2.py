# DE-MemoryNet on CUHK-CR2: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: DE Table VI: PSNR 24.348, SSIM 0.6843, LPIPS 0.0369.
# Train (all three stages, resumable; work_dirs/de_memorynet_cuhkcr2/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_cuhkcr2.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_cuhkcr2.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_cuhkcr2.py \
#       work_dirs/de_memorynet_cuhkcr2/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_cuhkcr2.py', './_base_/de_memorynet.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=4), weight_net=dict(num_bands=4),
             reference=dict(in_channels=4),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/memorynet_cuhkcr2/iter_44800.pth',
             reference_train_config='configs/memorynet/memorynet_cuhkcr2.py')
