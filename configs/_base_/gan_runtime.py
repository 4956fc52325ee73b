# Runtime of the GAN restorers (two networks): default_runtime.py, except that distributed
# runs wrap G and D separately (GPU only); dead parameters need find_unused_parameters.
_base_ = ['./default_runtime.py']
model_wrapper_cfg = dict(_delete_=True, type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False, find_unused_parameters=True)
