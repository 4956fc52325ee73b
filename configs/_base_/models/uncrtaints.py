# UnCRtainTS (Ebel et al., CVPRW 2023; PatrickTUM/UnCRtainTS) in crbench's UncertaintyRestorer
# (configs/uncrtaints/README.md). The defaults of the official parse_args.py: width 128
# (encoder_widths [128], decoder_widths [128] x 5), MBConv blocks (expansion 2), group norm in
# the encoder and batch norm in the decoder, L-TAE with 16 heads, d_model 256, d_k 4,
# attention on features max-pooled to 32 x 32 ("att_group" aggregation), sigmoid means times
# scale_by, softplus variances. scale_by 10 is the value of the README's training command.
# A concrete config sets the bands, mono-/multi-temporal, the input keys, the loss and the
# schedule length.
_base_ = ['../default_runtime.py']
model_name = 'uncrtaints'

model = dict(
    type='UncertaintyRestorer',
    generator=dict(
        type='UnCRtainTS', in_channels=15, out_channels=13, covariance='diag', width=128,
        encoder_blocks=1, decoder_blocks=5, encoder_norm='group', decoder_norm='batch',
        mono_temporal=False, n_head=16, d_model=256, d_k=4, positional_encoding=False,
        attention_size=32, attention_dropout=0.1, scale_by=10.0, pad_value=0.0),
    # Official 'MGNLL' with covmode 'diag': the multivariate Gaussian NLL, eps 1e-8, full.
    # The official vectorised loss sums the log-determinant over the batch for every sample
    # (the paper's NLL is per sample); the code trained the published models, so it is
    # followed here (batch_summed_logdet=False gives the paper's per-sample NLL).
    loss=dict(type='DiagonalGaussianNLLLoss', eps=1e-8, full=True, batch_summed_logdet=True),
    input_keys=('cloudy', ),
    # crbench's [-1, 1] -> the official reflectances in [0, 1] (then x scale_by in the model)
    network_range=(0.0, 1.0),
    data_preprocessor=dict(type='CRDataPreprocessor'))

# Official optimiser (README training command; BaseModel): Adam lr 1e-3 with torch's defaults
# (betas (0.9, 0.999), no weight decay), ExponentialLR gamma 1.0 stepped per epoch, i.e. a
# constant rate (no param_scheduler). Batch 4, 20 epochs, no augmentation, full patches.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=11900, val_interval=595)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
