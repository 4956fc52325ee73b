# DSen2-CR (Meraner et al., ISPRS J. 2020; official Keras code ameraner/dsen2-cr) in crbench's
# DSen2CRRestorer (docs/models.md). A concrete config sets the bands, SAR use and the loss.
# Network: paper Sec. 4.2 and the official main script: B = 16 residual blocks, F = 256 feature
# maps, residual scaling 0.1, long skip from the cloudy image.
_base_ = ['../default_runtime.py']
model_name = 'dsen2_cr'

model = dict(
    type='DSen2CRRestorer',
    generator=dict(type='DSen2CR', optical_channels=13, sar_channels=2, num_blocks=16,
                   features=256, residual_scale=0.1),
    # CARL (paper Eq. 3, lambda = 1) on a cloud + shadow mask from the train pipeline.
    loss='carl', target_weight=1.0, use_sar=True,
    # The official units: optical reflectance / 2000 (crbench's [-1, 1] -> [0, 5]), SAR dB
    # clipped per band and mapped to [0, 2]; the loss is computed in them, so the official
    # learning rate and converted official weights apply unchanged.
    optical_range=(0.0, 5.0), sar_range=(0.0, 2.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Optimiser (paper Sec. 5.1, official main script): Nadam, lr 7e-5, betas (0.9, 0.999),
# eps 1e-8, Keras schedule_decay 0.004 (= torch NAdam momentum_decay); no learning-rate
# schedule, no gradient clipping, no weight decay. Batch 16 of 128 x 128 crops (datasets).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='NAdam', lr=7e-5, betas=(0.9, 0.999), eps=1e-8, momentum_decay=0.004))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=53568, val_interval=6696)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
