# MemoryNet (the collection's MPRNet, n_feat 40) on Sen2_MTC_New, as trained for the DE paper:
# batch 2 at 256x256, Adam 1e-4 (0.5, 0.999), wd 1e-5.
_base_ = [
    '../_base_/datasets/sen2mtc_new_mono_rgb.py',
    '../_base_/schedules/adam_iter.py',
    '../_base_/default_runtime.py',
]
model_name = 'memorynet'

model = dict(
    type='SupervisedRestorer',
    generator=dict(type='MemoryNet', in_channels=3, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # docs/models.md §1.1: Charbonnier on all three stage outputs + 0.05 x edge loss.
    losses=dict(charbonnier=dict(type='CharbonnierLoss', eps=1e-3),
                edge=dict(type='LaplacianEdgeLoss', eps=1e-3)),
    loss_weights=dict(charbonnier=1.0, edge=0.05),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Mono-temporal Sen2_MTC_New, cloudy date _0 only (the dataset base
# sen2mtc_new_mono_rgb.py). MemoryNet's stages are residuals on the input, so the cloudy
# image is read as R, G, B (its NIR is dropped) to match the RGB target.
# NOTE: SupervisedRestorer must fold the time axis of these 1xCxHxW inputs (as GANRestorer
# and CVAERestorer do, crbench/models/restorers/gan.py: fold_time) for this config to run.

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 2,380 training
# images / 2 = 1,190 iterations per epoch -> 238,000 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
