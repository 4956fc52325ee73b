# DE-MemoryNet on RICE1: DE with a trained MemoryNet (the collection's MPRNet) as the
# reference network E. Reported: DE Table V: PSNR 35.525, SSIM 0.9882, LPIPS 0.0055.
# Train (all three stages, resumable; work_dirs/de_memorynet_rice1/<stage>/):
#   python tools/train.py configs/memorynet/memorynet_rice1.py  # the reference network first
#   python tools/train.py configs/de/de_memorynet_rice1.py
# Test the final model:
#   python tools/test.py configs/de/de_memorynet_rice1.py \
#       work_dirs/de_memorynet_rice1/stage3_joint/iter_20000.pth
_base_ = ['./_base_/de_rice1.py', './_base_/de_memorynet.py', './_base_/de_runtime.py']

model = dict(cnp=dict(num_bands=3), weight_net=dict(num_bands=3),
             reference=dict(in_channels=3),
             # The final checkpoint (iter_<max_iters>.pth) of reference_train_config.
             reference_checkpoint='work_dirs/memorynet_rice1/iter_40000.pth',
             reference_train_config='configs/memorynet/memorynet_rice1.py')
