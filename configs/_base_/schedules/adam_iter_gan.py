# Iteration-based GAN training: adam_iter.py's Adam (lr 1e-4, betas (0.5, 0.999), weight
# decay 1e-5) for G and D, one optimiser each (the restorer's `generator` and
# `discriminator`); no LR schedule. Pair with ../gan_runtime.py.
_base_ = ['./adam_iter.py']
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=_base_.optim_wrapper.optimizer),
    discriminator=dict(type='OptimWrapper', optimizer=_base_.optim_wrapper.optimizer))
