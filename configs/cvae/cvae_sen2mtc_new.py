# CVAE on Sen2_MTC_New: the collection's recipe (docs/models.md §1.3). Each step averages 10 stochastic
# forward passes; loss SmoothL1(beta 0.5) + 0.01 x KL (summed) + 0.18 x Laplacian edge L1.
# Test: one stochastic sample as officially (test_samples=1); set test_samples=N for the mean
# of N samples or test_sample=False for z = mu. Fixed 256x256 input.
_base_ = [
    '../_base_/datasets/sen2mtc_new_mono_rgb.py',
    '../_base_/schedules/adam_iter.py',
    '../_base_/default_runtime.py',
]
model_name = 'cvae'

model = dict(
    type='CVAERestorer',
    generator=dict(type='CVAE', in_channels=3, image_size=256, patch_size=16, embed_dim=512,
                   depth=4, num_heads=8, mlp_ratio=2.0, latent_dim=50),
    num_samples=10,
    pixel_loss=dict(type='SmoothL1Loss', beta=0.5),
    kl_loss=dict(type='KLDivergenceLoss', reduction='sum'),
    edge_loss=dict(type='LaplacianEdgeL1Loss', bands='first3'),
    loss_weights=dict(pixel=1.0, kl=0.01, edge=0.18),
    test_samples=1,
    test_sample=True,
    input_keys=('cloudy', ),
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Mono-temporal Sen2_MTC_New, cloudy date _0 only (the dataset base
# sen2mtc_new_mono_rgb.py). The CVAE's output is its input plus a residual, so the cloudy
# image is read as R, G, B (its NIR is dropped) to match the RGB target.

# Schedule: 200 epochs at batch 2 (the collection, docs/models.md §1): 2,380 training
# images / 2 = 1,190 iterations per epoch -> 238,000 iterations.
# Validation and checkpoints every 10 epochs.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=238000, val_interval=11900)
default_hooks = dict(checkpoint=dict(interval=11900))
