# CUHK-CR1 (thin cloud): docs/datasets.md §2. 534 train (481 train + 53 val) / 134 test,
# 4 bands R,G,B,NIR.
# Same layout, pipeline and protocol as CUHK-CR2; only the folder differs.
_base_ = ['./cuhk_cr2.py']
dataset_name = 'CUHK-CR1'
data_root = 'data/C-CUHK/CUHK-CR1'
train_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
val_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
test_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
