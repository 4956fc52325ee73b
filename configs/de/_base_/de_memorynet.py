# DE with a trained MemoryNet (the collection's MPRNet, configs/_base_/models/memorynet.py) as the
# reference network E. The concrete config sets its bands, checkpoint and training config.
_base_ = ['./de_framework.py']
model_name = 'de_memorynet'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MemoryNet', in_channels=3, n_feat=40, scale_unetfeats=20,
                   scale_orsnetfeats=16, num_cab=8),
    # crbench's SupervisedRestorer trains MemoryNet on [-1, 1] tensors, in and out (the official
    # DE feeds its [0, 1]-trained MemoryNet (y + 1) / 2 instead: 'zero_one').
    reference_input_range='minus_one_one',
    reference_output_index=0)  # MemoryNet returns [stage3, stage2, stage1]
