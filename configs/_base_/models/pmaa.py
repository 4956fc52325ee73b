# PMAA (Zou et al., ECAI 2023), official train_new.py: the PMAA(32, 4) generator with
# instance norms (3,439,689 parameters), the 16-channel PatchGAN discriminator
# (2,844,609) and the frozen cloud-detection teacher of the attention loss (222,661; not
# trained, not saved: read from teacher_checkpoint). Losses (crbench/models/restorers/pmaa.py):
# D: 0.5 x [LSGAN(fake, 0) + LSGAN(real, 1)]; G: LSGAN + 100 x L1 + sum_t MSE(mask_t, teacher_t).
# The auxiliary loss (lambda_aux 50) exists officially behind --aux_loss, off by default,
# and is off here (aux_weight=0); label noise (--label_noise) is off too, as by default.
_base_ = ['../gan_runtime.py']
model_name = 'pmaa'

model = dict(
    type='PMAARestorer',
    generator=dict(type='PMAA', in_channels=4, out_channels=4, dim=32, num_frames=3),
    discriminator=dict(type='PMAADiscriminator', in_channels=3 * 4 + 4),  # dates + image
    teacher=dict(type='PMAAFrameEncoder', in_channels=4, dim=32, norm='batch', pooled_norm=True),
    # Official data/Feature_Extrator_FS2.pth, converted (configs/pmaa/README.md).
    teacher_checkpoint='checkpoints/pmaa/pmaa_cloud_teacher.pth',
    l1_weight=100.0,
    adversarial_weight=1.0,
    attention_weight=1.0,
    aux_weight=0.0,
    discriminator_scale=0.5,
    pred_bands=3,  # the protocol scores R, G, B of the four-band output
    data_preprocessor=dict(type='CRDataPreprocessor'))
