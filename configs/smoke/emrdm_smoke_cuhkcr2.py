# Smoke test of EMRDM (configs/emrdm/README.md): configs/emrdm/emrdm_cuhkcr2.py with a tiny HDiT
# on the synthetic CUHK-CR2 (32x32 images), 20 iterations, a checkpoint every 10.
# Checks that the whole path runs, not what the model scores.
_base_ = ['../emrdm/emrdm_cuhkcr2.py']

model = dict(network=dict(widths=[16, 32], depths=[1, 1], d_ffs=[32, 64],
                          self_attns=[dict(type='neighborhood', d_head=8, kernel_size=3),
                                      dict(type='global', d_head=8)],
                          dropout_rate=[0.0, 0.0], mapping_depth=1, mapping_width=32,
                          mapping_d_ff=64, mapping_dropout_rate=0.0))

data_root = 'data/synthetic/C-CUHK/CUHK-CR2'  # tools/make_synthetic_data.py, as ./_base_/
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10, save_best=None))
