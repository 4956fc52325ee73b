"""CTGAN's training recipe (Huang & Wu, ICIP 2022; configs/ctgan/README.md) on :class:`GANRestorer`.

What differs from the other GAN baselines:

* least-squares GAN (``MSE(D(·), 1 or 0)``; the official default ``gan_mode='lsgan'``),
  the discriminator loss halved, D stepped before G;
* the generator returns ``(image, cloud maps, auxiliary images)``, one map and one
  auxiliary restoration per date;
* the cloud maps regress (MSE, weight 1, summed over dates) on those of a *frozen
  teacher*: CTGAN's own feature extractor pretrained on FS-2 (``Feature_Extrator_FS2.pth``
  of the official release), run on each cloudy date;
* the auxiliary images are pulled to the target with L1 (weight ``aux_weight``, summed
  over dates);
* the target has all four bands (R, G, B, NIR) in training (the training pipeline loads
  the clear image's NIR too); predictions keep the first ``pred_bands`` (R, G, B, what the
  evaluation pipeline's target holds).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from crbench.registry import MODELS
from .gan import GANRestorer, frozen
from .supervised import restorer_input

@MODELS.register_module()
class CTGANRestorer(GANRestorer):
    """:class:`GANRestorer` with CTGAN's losses (module docstring).

    Args:
        mask_teacher: ``dict(checkpoint=PATH)``: the FS-2 feature extractor, as converted by
            ``tools/model_converters/convert_ctgan.py --part feature_extractor`` (the
            official file is accepted too and converted on the fly); other keys are
            :class:`CTGANFeatureExtractor` arguments (official: its defaults). ``None`` drops the cloud-map term (not the official recipe).
        mask_weight: weight of Σ_dates MSE(map, teacher map) (official: 1).
        aux_weight: weight of Σ_dates L1(aux image, target) (official ``lambda_aux`` 50;
            0 drops the term).
        gan_mode: ``'lsgan'`` (official default) or ``'vanilla'`` (BCE with logits).
        discriminator_weight: factor of D's real + fake loss (official 0.5).
        pred_bands: bands of the prediction (the evaluated target's, 3 = RGB).
        Other arguments: :class:`GANRestorer` (``adversarial`` is not used).
    """

    def __init__(self, generator: dict, discriminator: dict,
                 mask_teacher: Optional[dict] = None, mask_weight: float = 1.0,
                 aux_weight: float = 50.0, gan_mode: str = 'lsgan',
                 discriminator_weight: float = 0.5, pred_bands: int = 3, **kwargs):
        kwargs.setdefault('adversarial', 'logistic')
        super().__init__(generator, discriminator, **kwargs)
        if gan_mode not in ('lsgan', 'vanilla'):
            raise ValueError(f"gan_mode must be 'lsgan' or 'vanilla', got {gan_mode!r}")
        self.gan_mode, self.discriminator_weight = gan_mode, float(discriminator_weight)
        self.mask_weight, self.aux_weight = float(mask_weight), float(aux_weight)
        self.pred_bands = int(pred_bands)
        self.mask_teacher_cfg = None if mask_teacher is None else dict(mask_teacher)
        self._teacher = None

    @property
    def mask_teacher(self):
        """The frozen teacher, built from its file on first use: only training needs it
        (testing a converted official generator does not). It is kept out of the module
        tree, so it is in no checkpoint, optimiser or DDP bucket."""
        if self._teacher is None and self.mask_teacher_cfg is not None:
            object.__setattr__(self, '_teacher', build_mask_teacher(**self.mask_teacher_cfg))
        return self._teacher

    # -- generator and discriminator ---------------------------------------------
    def generate(self, inputs):
        """(network input, (cloud maps, aux images), image), all in ``network_range``."""
        x = self.range.to_network(restorer_input(inputs, self.input_keys))
        image, maps, aux = self.generator(x)
        return x, (maps, aux), image

    def adversarial_loss(self, scores: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.full_like(scores, 1.0 if real else 0.0)
        if self.gan_mode == 'lsgan':
            return F.mse_loss(scores, target)
        return F.binary_cross_entropy_with_logits(scores, target)

    # -- losses --------------------------------------------------------------------
    def generator_losses(self, inputs, data_samples, x, aux, fake, real) -> Dict[str, torch.Tensor]:
        bands = real.shape[1]
        if fake.shape[1] < bands or fake.shape[-2:] != real.shape[-2:]:
            raise ValueError(f'generator output {tuple(fake.shape)} does not cover the target '
                             f'{tuple(real.shape)}')
        maps, aux_images = aux
        with frozen(self.discriminator):
            scores = self.discriminate(x, fake)
        losses = {'loss_gan': self.adversarial_weight * self.adversarial_loss(scores, True)}
        for name, fn in self.losses.items():
            losses[f'loss_{name}'] = self.pixel_weights[name] * fn(fake[:, :bands], real)
        if self.mask_teacher_cfg is not None and self.mask_weight:
            teacher = self.mask_teacher.to(x.device)
            with torch.no_grad():
                targets = [teacher(frame)[0]
                           for frame in x.split(x.shape[1] // len(maps), dim=1)]
            losses['loss_mask'] = self.mask_weight * sum(
                F.mse_loss(m[:, 0], t[:, 0]) for m, t in zip(maps, targets))
        if self.aux_weight:
            losses['loss_aux'] = self.aux_weight * sum(
                F.l1_loss(a[:, :bands], real) for a in aux_images)
        return losses

    def discriminator_losses(self, x, fake, real) -> Dict[str, torch.Tensor]:
        fake = fake.detach()[:, :real.shape[1]]
        w = self.discriminator_weight
        return {'loss_d_real': w * self.adversarial_loss(self.discriminate(x, real), True),
                'loss_d_fake': w * self.adversarial_loss(self.discriminate(x, fake), False)}

    # -- prediction ------------------------------------------------------------------
    def _prediction(self, image: torch.Tensor) -> torch.Tensor:
        return super()._prediction(image[:, :self.pred_bands])

    @torch.no_grad()
    def predict(self, inputs, data_samples):
        """Predictions, plus the three dates' cloud maps as ``aux_map`` (3×H×W)."""
        _, (maps, _), image = self.generate(inputs)
        for i, (sample, pred) in enumerate(zip(data_samples, self._prediction(image))):
            sample.pred = pred.detach()
            sample.aux_map = torch.cat([m[i] for m in maps], 0).detach().float()
        return data_samples


def build_mask_teacher(checkpoint: str, **network):
    """The frozen FS-2 feature extractor whose cloud maps supervise CTGAN's."""
    import os.path as osp

    from crbench.converters.common import read_state_dict
    from crbench.converters.ctgan import convert_part
    from crbench.models.reference.ctgan import CTGANFeatureExtractor
    if not osp.isfile(str(checkpoint)):
        raise FileNotFoundError(
            f'mask_teacher.checkpoint not found: {checkpoint}. CTGAN trains its cloud maps '
            'against the official FS-2 feature extractor (Feature_Extrator_FS2.pth of '
            'come880412/CTGAN); convert it with python tools/model_converters/convert_ctgan.py '
            'Feature_Extrator_FS2.pth OUT.pth --part feature_extractor and set '
            'model.mask_teacher.checkpoint=OUT.pth (or mask_teacher=None to drop the term)')
    state = read_state_dict(checkpoint, 'mask_teacher.checkpoint')
    if 'conv_in.0.weight' in state:  # the official file: rename by the converter's table
        state = convert_part(state, 'feature_extractor')
    # Its random initialisation is overwritten at once: keep it off the global RNG, so a
    # resumed run draws the same dropout masks as an uninterrupted one.
    with torch.random.fork_rng(devices=[]):
        teacher = CTGANFeatureExtractor(**network)
    teacher.load_state_dict(state, strict=True)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


__all__: Sequence[str] = ['CTGANRestorer', 'build_mask_teacher']
