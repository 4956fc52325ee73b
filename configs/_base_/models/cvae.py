# CVAE, the collection's recipe (docs/models.md §1.3). Each step averages 10 stochastic
# forward passes; loss SmoothL1(beta 0.5) + 0.01 x KL (summed) + 0.18 x Laplacian edge L1
# (on the first three bands, as officially). Test: one stochastic sample as officially
# (test_samples=1); set test_samples=N for the mean of N samples or test_sample=False for
# z = mu. Fixed 256x256 input. Output bands = input bands.
# A concrete config sets the bands (`generator.in_channels`).
# With the collection's optimiser (../schedules/adam_iter.py; the schedule is set per
# dataset) and runtime (../default_runtime.py).
_base_ = ['../schedules/adam_iter.py', '../default_runtime.py']
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
