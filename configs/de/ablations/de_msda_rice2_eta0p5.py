# DE Sec. V-C3 / Fig. 11: the limiting factor eta = 0.5 (W clamped to [0.5, 1] at inference;
# the recipe uses 0.3). eta acts at inference only, so test the final model of
# configs/de/de_msda_rice2.py with this config:
#   python tools/test.py configs/de/ablations/de_msda_rice2_eta0p5.py \
#       work_dirs/de_msda_rice2/stage3_joint/iter_20000.pth
# The paper shows eta in {0.1, 0.3, 0.5, 0.7, 0.9} as a plot only (no table): best PSNR at 0.1,
# best SSIM at 0.3. It names "RICE"; the ablation section uses RICE2 with MSDA-CR.
_base_ = ['../de_msda_rice2.py']
model_name = 'de_msda_eta0p5'
model_display = 'DE-MSDA, eta = 0.5 (Fig. 11)'

model = dict(eta_limit=0.5)
