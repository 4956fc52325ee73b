# EMRDM (./emrdm.py) with its HDiT network, as EMRDM paper Table 5 trains it on CUHK-CR and
# SEN12MS-CR (docs/models.md §3). A concrete config sets the bands of `hdit` (input = bands of
# c_in x_sigma + condition bands, output = restored bands).
#
# Network: HDiT, patch 1, widths [128, 256, 384, 768], depths [2, 2, 2, 2], FFN [256, 512, 768,
# 1536], heads of 64 channels (2/4/6/12), neighbourhood attention (kernel 7) on levels 0-1 and
# global attention on levels 2-3, dropout [0, 0, 0, 0.1], mapping network depth 2, width 768,
# FFN 1536, dropout 0.1.
_base_ = ['./emrdm.py']

hdit = dict(
    type='HDiT', in_channels=8, out_channels=4, patch_size=1,
    widths=[128, 256, 384, 768], depths=[2, 2, 2, 2], d_ffs=[256, 512, 768, 1536],
    self_attns=[dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='neighborhood', d_head=64, kernel_size=7),
                dict(type='global', d_head=64),
                dict(type='global', d_head=64)],
    dropout_rate=[0.0, 0.0, 0.0, 0.1],
    mapping_depth=2, mapping_width=768, mapping_d_ff=1536, mapping_dropout_rate=0.1)

model = dict(network=hdit)
