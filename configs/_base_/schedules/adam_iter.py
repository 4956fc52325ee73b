# Iteration-based training with Adam, the collection's optimiser for every
# baseline (docs/models.md §1): lr 1e-4, betas (0.5, 0.999), weight decay 1e-5, no schedule.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-5))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
