# MemoryNet (the collection's MPRNet, n_feat 40) in crbench's SupervisedRestorer
# (docs/models.md §1.1).
# A concrete config sets the bands (`generator.in_channels`; output bands = input bands).
# With the collection's optimiser (../schedules/adam_iter.py; the schedule is set per
# dataset) and runtime (../default_runtime.py).
_base_ = ['../schedules/adam_iter.py', '../default_runtime.py']
model_name = 'memorynet'

model = dict(
    type='SupervisedRestorer',
    generator=dict(type='MemoryNet', in_channels=3, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # Charbonnier on all three stage outputs + 0.05 x edge loss.
    losses=dict(charbonnier=dict(type='CharbonnierLoss', eps=1e-3),
                edge=dict(type='LaplacianEdgeLoss', eps=1e-3)),
    loss_weights=dict(charbonnier=1.0, edge=0.05),
    data_preprocessor=dict(type='CRDataPreprocessor'))
