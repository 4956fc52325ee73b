# CTGAN (Huang & Wu, ICIP 2022; come880412/CTGAN), configs/ctgan/README.md: three cloudy dates
# (R, G, B, NIR) -> one clear R, G, B, NIR image; crbench/models/reference/ctgan.py and the
# recipe crbench/models/restorers/ctgan.py.
# Loss and optimiser as the official train.py: D first, least-squares GAN ('lsgan', the
# default gan_mode; no label noise, its default), D loss x 0.5; G: GAN + 100 x L1 + 1 x
# sum_dates MSE(cloud map, frozen FS-2 teacher's map) + 50 x sum_dates L1(aux image, target).
# The auxiliary term is the paper's "auxiliary generator"; the code gates it behind
# --aux_loss, which the README's training command omits: aux_weight=0 reproduces that run.
# AdamW lr 5e-4, betas (0.5, 0.999), weight decay 5e-4 for G and D.
_base_ = ['../gan_runtime.py']
model_name = 'ctgan'

model = dict(
    type='CTGANRestorer',
    # image_size fixes the conformer width (image_size / 4)^2; token_axis='batch' is the
    # official computation (the conformer's tokens are the samples of a batch; README).
    generator=dict(type='CTGANGenerator', image_size=256, in_channels=4, num_frames=3,
                   token_axis='batch'),
    discriminator=dict(type='CTGANDiscriminator', in_channels=3 * 4 + 4),
    conditional=True,  # D sees (three dates, image) stacked on channels
    gan_mode='lsgan',
    adversarial_weight=1.0,
    discriminator_weight=0.5,
    pixel_losses=dict(l1=dict(type='L1Loss')),
    pixel_weights=dict(l1=100.0),
    # Official Feature_Extrator_FS2.pth, converted with
    # tools/model_converters/convert_ctgan.py ... --part feature_extractor (or the raw file).
    mask_teacher=dict(checkpoint='checkpoints/ctgan/ctgan_fs2_feature_extractor.pth',
                      in_channels=4, dim=32, aspp_hidden=128),
    mask_weight=1.0,
    aux_weight=50.0,
    pred_bands=3,  # evaluated on R, G, B (the evaluation pipeline's target)
    update_order=('discriminator', 'generator'),
    input_keys=('cloudy', ),
    network_range=(-1.0, 1.0),  # the official loader's (x / 10000 - 0.5) / 0.5
    data_preprocessor=dict(type='CRDataPreprocessor'))

_adamw = dict(type='AdamW', lr=5e-4, betas=(0.5, 0.999), weight_decay=5e-4)
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=_adamw),
    discriminator=dict(type='OptimWrapper', optimizer=_adamw))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
