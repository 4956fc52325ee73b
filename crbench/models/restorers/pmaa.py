"""PMAA's adversarial recipe (Zou et al., ECAI 2023; official ``train_new.py``).

Per iteration, D is stepped first, then G against the updated D (as :class:`GANRestorer`):

* D: ½·[LSGAN(D(x, G(x)), 0) + LSGAN(D(x, y), 1)], where D sees the T dates folded into
  channels concatenated with the image, and LSGAN is the mean squared error to the label;
* G: LSGAN(D(x, G(x)), 1) + λ_L1·L1(G(x), y) + Σ_t MSE(m_t, m̂_t)
  [+ λ_aux·Σ_t L1(aux_t, y) when ``aux_weight`` > 0; off in the official runs, whose
  ``--aux_loss`` flag defaults to off], with m_t the generator's cloud map of date t and
  m̂_t that of a frozen cloud-detection teacher (batch-norm :class:`PMAAFrameEncoder`,
  the official ``Feature_Extrator_FS2.pth`` converted by ``convert_pmaa.py --teacher``).

Officially the target is the clear image's four bands (R, G, B, NIR) and so is the
output; crbench's Sen2_MTC_New protocol scores R, G, B, so the PMAA configs train on the
four-band target and predictions keep the first ``pred_bands`` bands. The teacher is read
from ``teacher_checkpoint`` when training first needs it, so inference, benchmarking and
tests of converted weights never need that file; it is kept out of ``state_dict``.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from crbench.models.reference.pmaa import PMAAFrameEncoder  # noqa: F401 (registers PMAA)
from crbench.registry import MODELS
from .gan import GANRestorer, fold_time, frozen

_TEACHER = 'cloud_teacher.'


@MODELS.register_module()
class PMAARestorer(GANRestorer):
    """PMAA generator + PatchGAN with the official losses (module docstring).

    Args:
        generator / discriminator: network configs (:class:`PMAA`, :class:`PMAADiscriminator`).
        teacher: config of the frozen cloud-detection network.
        teacher_checkpoint: its weights (crbench layout); needed once training starts
            when ``attention_weight`` > 0.
        l1_weight, attention_weight, aux_weight: λ_L1 (100), attention (1), λ_aux (50 when
            enabled; 0 = the official default).
        discriminator_scale: factor of D's summed real + fake terms (½).
        pred_bands: bands of the prediction (the first ones of the output).
    """

    def __init__(self, generator: dict, discriminator: dict, teacher: Optional[dict] = None,
                 teacher_checkpoint: Optional[str] = None, l1_weight: float = 100.0,
                 adversarial_weight: float = 1.0, attention_weight: float = 1.0,
                 aux_weight: float = 0.0, discriminator_scale: float = 0.5,
                 pred_bands: int = 3, input_keys: Sequence[str] = ('cloudy',),
                 clamp_output: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(generator, discriminator, adversarial='logistic',
                         adversarial_weight=adversarial_weight, conditional=True,
                         input_keys=input_keys, clamp_output=clamp_output,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if tuple(self.input_keys) != ('cloudy',):
            raise ValueError(f"PMAA reads only the cloudy dates; input_keys={list(input_keys)}")
        self.l1_weight, self.attention_weight = float(l1_weight), float(attention_weight)
        self.aux_weight, self.discriminator_scale = float(aux_weight), float(discriminator_scale)
        self.pred_bands = int(pred_bands)
        self.teacher_checkpoint = teacher_checkpoint
        self.cloud_teacher = None
        if self.attention_weight > 0:
            if teacher is None:
                raise ValueError('attention_weight > 0 needs a teacher config (the cloud-detection '
                                 'network of the attention loss)')
            self.cloud_teacher = MODELS.build(teacher).requires_grad_(False).eval()
        self._teacher_loaded = False
        self.register_state_dict_post_hook(_drop_teacher_state)
        self.register_load_state_dict_post_hook(_ignore_missing_teacher_state)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.cloud_teacher is not None:
            self.cloud_teacher.eval()  # frozen: batch-norm statistics of the checkpoint
        return self

    def _load_teacher(self) -> None:
        if self._teacher_loaded or self.cloud_teacher is None:
            return
        if not self.teacher_checkpoint:
            raise ValueError('PMAA training needs model.teacher_checkpoint: the cloud-detection '
                             'teacher converted with `python tools/model_converters/convert_pmaa.py '
                             '--teacher Feature_Extrator_FS2.pth OUT.pth` (configs/pmaa/README.md)')
        from crbench.engine.checkpoint import load_network_weights
        load_network_weights(self.cloud_teacher, self.teacher_checkpoint)
        self._teacher_loaded = True

    # -- networks --------------------------------------------------------------------
    def generate(self, inputs):
        """(D's condition: dates folded into channels, (masks, aux images), image)."""
        cloudy = inputs['cloudy'] if 'cloudy' in inputs else None
        if cloudy is None:
            raise KeyError(f"PMAA reads inputs['cloudy']; the batch has {sorted(inputs)}")
        if cloudy.dim() != 5:
            raise ValueError(f'PMAA needs multi-temporal input B×T×C×H×W, got {tuple(cloudy.shape)}')
        image, masks, aux = self.generator(cloudy)
        return fold_time(cloudy), (masks, aux), image

    def discriminate(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(torch.cat([condition, image], dim=1))

    # -- losses ----------------------------------------------------------------------
    @staticmethod
    def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))

    def generator_losses(self, inputs, data_samples, x, aux, fake, real) -> Dict[str, torch.Tensor]:
        if fake.shape != real.shape:
            raise ValueError(f'PMAA output {tuple(fake.shape)} does not match the training target '
                             f'{tuple(real.shape)}: PMAA trains on the four-band clear image '
                             '(configs/pmaa: gt bands [0, 1, 2, 3] in train_pipeline)')
        masks, aux_images = aux
        with frozen(self.discriminator):
            scores = self.discriminate(x, fake)
        losses = {'loss_gan': self.adversarial_weight * self.lsgan(scores, True),
                  'loss_l1': self.l1_weight * F.l1_loss(fake, real)}
        if self.attention_weight > 0:
            self._load_teacher()
            cloudy = inputs['cloudy']
            with torch.no_grad():
                targets = [self.cloud_teacher(cloudy[:, t])[0] for t in range(cloudy.shape[1])]
            losses['loss_attention'] = self.attention_weight * sum(
                F.mse_loss(m[:, 0], t[:, 0]) for m, t in zip(masks, targets))
        if self.aux_weight > 0:
            losses['loss_aux'] = self.aux_weight * sum(F.l1_loss(a, real) for a in aux_images)
        return losses

    def discriminator_losses(self, x, fake, real) -> Dict[str, torch.Tensor]:
        fake = fake.detach()
        s = self.discriminator_scale
        return {'loss_d_fake': s * self.lsgan(self.discriminate(x, fake), False),
                'loss_d_real': s * self.lsgan(self.discriminate(x, real), True)}

    # -- inference -------------------------------------------------------------------
    def restore(self, inputs) -> torch.Tensor:
        return self._prediction(self.generate(inputs)[2][:, :self.pred_bands])

    @torch.no_grad()
    def predict(self, inputs, data_samples):
        """Predictions, and the mean over dates of the cloud maps as ``aux_map``."""
        _, (masks, _), image = self.generate(inputs)
        mean_mask = torch.stack(masks, 0).mean(0)
        for i, (sample, pred) in enumerate(zip(data_samples,
                                               self._prediction(image[:, :self.pred_bands]))):
            sample.pred = pred.detach()
            sample.aux_map = mean_mask[i, :1].detach().float()
        return data_samples


def _drop_teacher_state(module, state_dict, prefix, local_metadata):
    # The teacher is frozen and read from its own file (teacher_checkpoint).
    for key in [k for k in state_dict if k.startswith(prefix + _TEACHER)]:
        del state_dict[key]


def _ignore_missing_teacher_state(module, incompatible_keys):
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if _TEACHER not in k]
