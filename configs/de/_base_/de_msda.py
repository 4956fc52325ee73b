# DE with a trained MSDA-CR generator (configs/_base_/models/msda_cr.py) as the reference
# network E. The concrete config sets its bands, checkpoint and training config.
_base_ = ['./de_framework.py']
model_name = 'de_msda'

model = dict(
    # Must match `model.generator` of reference_train_config (checked by the tests).
    reference=dict(type='MSDACRGenerator', in_channels=3),
    # The MSDA-CR generator ends in a sigmoid: [0, 1] in and out, as in the official DE.
    reference_input_range='zero_one',
    reference_output_index=-1)
