# ResidualConvNet (package my_cr_plugin) on CUHK-CR2, trained like crbench's supervised baselines.
#
# The bases are crbench's own configs. MMEngine resolves a relative _base_ path against this
# file's folder, and replaces {{$CRBENCH_CONFIGS:default}} with the environment variable
# CRBENCH_CONFIGS when it is set: set it to the configs/ folder of your crbench checkout, and
# this file works from any folder. The default below is where crbench's configs are seen from
# tests/data/plugin_example/configs/ inside the repository.
_base_ = [
    '{{$CRBENCH_CONFIGS:../../../../configs}}/_base_/datasets/cuhk_cr2.py',
    '{{$CRBENCH_CONFIGS:../../../../configs}}/_base_/schedules/adam_iter.py',
    '{{$CRBENCH_CONFIGS:../../../../configs}}/_base_/default_runtime.py',
]

# Imported before anything is built: registers ResidualConvNet. The package must be importable
# (installed, or its parent folder on PYTHONPATH).
custom_imports = dict(imports=['my_cr_plugin'], allow_failed_imports=False)

model_name = 'residual_conv'            # the name results and the leaderboard use
model_display = 'ResidualConvNet'
model = dict(
    type='SupervisedRestorer',
    generator=dict(type='ResidualConvNet', bands=4, width=32, depth=3),
    losses=dict(l1=dict(type='CharbonnierLoss')))
