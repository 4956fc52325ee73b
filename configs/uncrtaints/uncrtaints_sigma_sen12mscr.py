# UnCRtainTS sigma on SEN12MS-CR (mono-temporal): the L2 model's network with the aleatoric
# head (one variance per band, diagonal covariance) trained with the multivariate Gaussian
# NLL (official --loss MGNLL --covmode diag; the loss of configs/_base_/models/uncrtaints.py).
# The UnCRtainTS paper reports it next to the L2 model; EMRDM Table 1(c) lists only the L2
# variant. 520,218 parameters. Test runs save the predicted uncertainty maps
# (UncertaintyMapHook, <work_dir>/uncertainty/).
_base_ = ['./uncrtaints_l2_sen12mscr.py']
model_name = 'uncrtaints_sigma'

model = dict(
    generator=dict(covariance='diag'),
    loss=dict(_delete_=True, type='DiagonalGaussianNLLLoss', eps=1e-8, full=True,
              batch_summed_logdet=True))

custom_hooks = [dict(type='NonFiniteLossHook', policy='stop'),
                dict(type='UncertaintyMapHook', max_images=8)]
