# The synthetic twin of CUHK-CR2 that every smoke config trains and tests on, written by
#   python tools/make_synthetic_data.py --dataset cuhk_cr2 --out data/synthetic --size 64
# (64x64 on disk -> 32x32 after the dataset's MATLAB resize; 8 train / 4 test images).
# Loaders run in the main process (num_workers=0): faster than worker start-up at this size.
_base_ = ['../../_base_/datasets/cuhk_cr2.py']

data_root = 'data/synthetic/C-CUHK/CUHK-CR2'
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
