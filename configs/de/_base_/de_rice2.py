# DE on RICE2 (3 bands R, G, B): the RICE1 data pipelines, schedule and three training
# stages (./de_rice1.py) on RICE2 (the RICE1 layout with version 2).
# configs/de/de_{memorynet,msda}_rice2.py add the reference network.
_base_ = ['./de_rice1.py']
version = 2
train_dataloader = dict(dataset=dict(version=version))
val_dataloader = dict(dataset=dict(version=version))
test_dataloader = val_dataloader
