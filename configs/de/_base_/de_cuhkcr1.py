# DE on CUHK-CR1 (4 bands R, G, B, NIR): the CUHK-CR2 data pipelines, schedule and three
# training stages (./de_cuhkcr2.py) on the CUHK-CR1 folder.
# configs/de/de_{memorynet,msda}_cuhkcr1.py add the reference network.
_base_ = ['./de_cuhkcr2.py']
dataset_name = 'CUHK-CR1'
data_root = 'data/C-CUHK/CUHK-CR1'
train_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
val_dataloader = dict(dataset=dict(data_root=data_root, dataset_name=dataset_name))
test_dataloader = val_dataloader
