# MemoryNet (the collection's MPRNet, n_feat 40) on CUHK-CR2, as trained for the
# DE paper: batch 2 at 256×256, Adam 1e-4 (0.5, 0.999), wd 1e-5, 200 epochs.
# 448 training images / batch 2 = 224 iterations per epoch -> 44,800 iterations.
_base_ = [
    '../_base_/datasets/cuhk_cr2.py',
    '../_base_/schedules/adam_iter.py',
    '../_base_/default_runtime.py',
]
model_name = 'memorynet'

model = dict(
    type='SupervisedRestorer',
    generator=dict(type='MemoryNet', in_channels=4, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # docs/models.md §1.1: Charbonnier on all three stage outputs + 0.05 x edge loss.
    losses=dict(charbonnier=dict(type='CharbonnierLoss', eps=1e-3),
                edge=dict(type='LaplacianEdgeLoss', eps=1e-3)),
    loss_weights=dict(charbonnier=1.0, edge=0.05),
    data_preprocessor=dict(type='CRDataPreprocessor'))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=44800, val_interval=2240)
default_hooks = dict(checkpoint=dict(interval=2240))
