# Smoke test of DE (configs/de/README.md): configs/de/de_memorynet_cuhkcr2.py with tiny U-Nets on
# the synthetic CUHK-CR2 (32x32 images; 16x16 in stage 1), its three stages of 10 iterations
# each, DDIM with 5 steps. The reference prior E comes first: it is the MemoryNet smoke model,
#   python tools/train.py configs/smoke/memorynet_smoke_cuhkcr2.py
# whose final checkpoint work_dirs/memorynet_smoke_cuhkcr2/iter_20.pth (relative to the folder
# the commands run in) is read here. Then
#   python tools/train.py configs/smoke/de_smoke_cuhkcr2.py
#   python tools/test.py configs/smoke/de_smoke_cuhkcr2.py \
#       work_dirs/de_smoke_cuhkcr2/stage3_joint/iter_10.pth
# Checks that the whole path runs, not what the model scores.
_base_ = ['../de/de_memorynet_cuhkcr2.py']

model = dict(
    cnp=dict(model_channels=16, channel_mult=(1, 2), norm_groups=8, attention_downsample=(2, ),
             num_heads=2),
    weight_net=dict(model_channels=16, channel_mult=(1, 2), norm_groups=8,
                    attention_downsample=(2, ), num_heads=2),
    # = model.generator of reference_train_config
    reference=dict(n_feat=4, scale_unetfeats=1, scale_orsnetfeats=1, num_cab=1),
    reference_checkpoint='work_dirs/memorynet_smoke_cuhkcr2/iter_20.pth',
    reference_train_config='configs/smoke/memorynet_smoke_cuhkcr2.py',
    sampler=dict(num_steps=5))

data_root = 'data/synthetic/C-CUHK/CUHK-CR2'  # tools/make_synthetic_data.py, as ./_base_/
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# Stage 1's coarse pipeline resizes the whole image to 16x16 here (64x64 in DE).
train_pipeline_64 = [_base_.train_pipeline_64[0], dict(type='MatlabResize', size=(16, 16)),
                     *_base_.train_pipeline_64[2:]]
# Every stage: batch 2, 10 iterations, validation and a checkpoint at its end.
stages = [dict(s, cfg_options=dict(s.cfg_options, train_dataloader=dict(batch_size=2),
                                   train_cfg=dict(max_iters=10, val_interval=10)))
          for s in _base_.stages]
train_cfg = dict(max_iters=10, val_interval=10)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
