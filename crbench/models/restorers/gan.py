"""Adversarial restorers: a generator and a discriminator with two optimisers.

One framework covers the three GAN baselines of the collection (docs/models.md
§1.2, §1.4, §1.5); their recipes differ only in configuration:

==========  ==========================  ======================================  ===========
recipe      discriminator loss          generator loss                          update order
==========  ==========================  ======================================  ===========
SpA-GAN     logistic, conditional D     1·GAN + 100·L1 + 1·MSE(att, M)          D, then G
AMGAN-CR    logistic, conditional D     0.1·GAN + 10·L1 + 10·MSE(mask, M)       D, then G
MSDA-CR     WGAN + GP (normal α),       1.2·SmoothL1 + 0.04·VGG + 0.05·WGAN     G, then D
            unconditional D
==========  ==========================  ======================================  ===========

Value range. crbench tensors are in [-1, 1]; the collection trains every
model on [0, 1] data, so its loss balances (the 100 of SpA-GAN's L1, the
SmoothL1 transition, MSDA-CR's sigmoid output) are those of [0, 1] images.
``network_range`` is the range the networks *and all losses* see: inputs and
targets are mapped linearly from [-1, 1] to it, and the prediction is mapped
back. With ``network_range=(0, 1)`` (all zoo configs) MSDA-CR's sigmoid
output covers exactly the data range, and a converted official checkpoint
(``tools/model_converters/convert_collection.py``) receives what it was
trained on.

Also here, because the GAN configs need it and MMEngine 0.10 has none:
:class:`MultiOptimWrapperConstructor`, one optimiser wrapper per submodule.
"""
import copy
import re
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from crbench.registry import MODELS
from .base import BaseRestorer
from .supervised import RangeMap, fold_time, network_input, restorer_input  # noqa: F401

#: Loss configs whose ``type`` is not registered fall back to these torch losses.
TORCH_LOSSES = ('L1Loss', 'MSELoss', 'SmoothL1Loss', 'HuberLoss')


def build_loss(cfg: dict, where: str) -> nn.Module:
    """Build a loss from the registry, or one of ``TORCH_LOSSES`` by name.

    ``dict(type='SmoothL1Loss', beta=0.5)`` is ``torch.nn.SmoothL1Loss(beta=0.5)``
    unless a crbench loss of that name is registered.
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'{where}: a loss config must be a dict with a type, got {cfg!r}')
    cfg = dict(cfg)
    name = cfg['type']
    if isinstance(name, str) and MODELS.get(name) is None:
        if name not in TORCH_LOSSES:
            raise KeyError(f'{where}: loss type {name!r} is neither registered in crbench MODELS '
                           f'nor one of the torch losses {TORCH_LOSSES}')
        cfg.pop('type')
        return getattr(nn, name)(**cfg)
    return MODELS.build(cfg)


def attention_target_from_images(cloudy: torch.Tensor, gt: torch.Tensor,
                                 upper: float = 1.0) -> torch.Tensor:
    """M = clip(Σ_bands(gt − cloudy), 0, upper) in 0–255 units, from [-1, 1] tensors.

    The official loaders compute M on the resized 0–255 images (docs/models.md §1,
    quirk 6; upper 1 for CUHK-CR, 10 for RICE); a difference of d in [-1, 1] is
    127.5·d in 0–255 units, so this equals it for 8-bit data. For datasets in
    other units it is the attention target of their [-1, 1] range rendered to
    0–255. ``cloudy`` may have more bands than ``gt`` (Sen2_MTC_New: R, G, B,
    NIR against R, G, B): its first ``gt`` bands are used. Returns B×1×H×W.
    """
    cloudy = fold_time(cloudy)
    if cloudy.shape[1] < gt.shape[1] or cloudy.shape[-2:] != gt.shape[-2:]:
        raise ValueError(f'cannot compute the attention target from cloudy {tuple(cloudy.shape)} '
                         f'and gt {tuple(gt.shape)}')
    diff = (gt - cloudy[:, :gt.shape[1]]).sum(dim=1, keepdim=True) * 127.5
    return diff.clamp(0, upper)


@contextmanager
def frozen(module: nn.Module):
    """Temporarily stop gradients into ``module``'s parameters (they still flow through it)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@MODELS.register_module()
class GANRestorer(BaseRestorer):
    """A generator trained with pixel losses and an adversarial discriminator.

    Args:
        generator: network config. It returns the image, or ``(aux, image)``
            (SpA-GAN's attention map, AMGAN-CR's mask).
        discriminator: network config. Called as ``D(condition, image)`` when
            ``conditional=True`` (the two-branch :class:`PatchDiscriminator`;
            the condition is the generator's input, so it includes SAR when
            ``input_keys`` does), else ``D(image)`` (MSDA-CR's critic).
        adversarial: ``'logistic'`` (softplus GAN, raw logits) or ``'wgan'``.
        adversarial_weight: weight of the generator's adversarial term.
        pixel_losses / pixel_weights: name → loss config / weight; each is
            called ``loss(pred, gt)`` (the VGG perceptual loss fits here too).
        attention_loss / attention_weight: regression of ``aux[:, 0]`` on the
            attention target M (``None``: ``aux`` is ignored).
        attention_upper: clip of the attention target M, computed from the
            batch by :func:`attention_target_from_images` (1 for CUHK-CR, 10 for
            RICE in the official loaders).
        gradient_penalty: config of :class:`WGANGradientPenalty` (its λ is
            inside), added to the discriminator loss; ``None`` for none.
        update_order: ``('discriminator', 'generator')`` (SpA-GAN, AMGAN-CR:
            D is stepped first and G's adversarial term uses the updated D) or
            ``('generator', 'discriminator')`` (MSDA-CR). The generator runs
            once per iteration either way; D always sees the fake detached.
        input_keys: inputs concatenated (time folded) as the generator input.
        network_range: the range networks and losses work in (see module doc).
        clamp_output: clamp predictions to [-1, 1] at inference.

    ``train_step`` needs an ``OptimWrapperDict`` with keys ``generator`` and
    ``discriminator`` (:class:`MultiOptimWrapperConstructor`). Logged: every
    weighted term (``loss_gan``, ``loss_<pixel name>``, ``loss_attention``,
    ``loss_d_real``, ``loss_d_fake``, ``loss_gp``) and the totals ``loss_g``,
    ``loss_d``. Loss modules hold no trained state, so their tensors (the
    frozen VGG16 of the perceptual loss) are kept out of ``state_dict``.
    """

    UPDATE_ORDERS = (('discriminator', 'generator'), ('generator', 'discriminator'))

    def __init__(self, generator: dict, discriminator: dict, adversarial: str = 'logistic',
                 adversarial_weight: float = 1.0, conditional: bool = True,
                 pixel_losses: Optional[Dict[str, dict]] = None,
                 pixel_weights: Optional[Dict[str, float]] = None,
                 attention_loss: Optional[dict] = None, attention_weight: float = 1.0,
                 attention_upper: float = 1.0,
                 gradient_penalty: Optional[dict] = None,
                 update_order: Sequence[str] = ('discriminator', 'generator'),
                 input_keys: Sequence[str] = ('cloudy',),
                 network_range: Sequence[float] = (-1.0, 1.0), clamp_output: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if adversarial not in ('logistic', 'wgan'):
            raise ValueError(f"adversarial must be 'logistic' or 'wgan', got {adversarial!r}")
        if tuple(update_order) not in self.UPDATE_ORDERS:
            raise ValueError(f'update_order must be one of {self.UPDATE_ORDERS}, '
                             f'got {update_order!r}')
        self.generator = MODELS.build(generator)
        self.discriminator = MODELS.build(discriminator)
        self.adversarial, self.conditional = adversarial, bool(conditional)
        self.adversarial_weight = float(adversarial_weight)
        if adversarial == 'logistic':
            self.gan_loss = MODELS.build(dict(type='LogisticGANLoss'))
        else:
            self.wgan_g = MODELS.build(dict(type='WGANGeneratorLoss'))
        pixel_losses = dict(pixel_losses or {})
        pixel_weights = dict(pixel_weights or {})
        unknown = set(pixel_weights) - set(pixel_losses)
        if unknown:
            raise KeyError(f'pixel_weights names {sorted(unknown)} that are not in pixel_losses '
                           f'{sorted(pixel_losses)}')
        self.losses = nn.ModuleDict({name: build_loss(cfg, f'pixel_losses.{name}')
                                     for name, cfg in pixel_losses.items()})
        self.pixel_weights = {n: float(pixel_weights.get(n, 1.0)) for n in pixel_losses}
        self.attention_loss = (None if attention_loss is None
                               else build_loss(attention_loss, 'attention_loss'))
        self.attention_weight = float(attention_weight)
        self.attention_upper = float(attention_upper)
        self.gradient_penalty = None if gradient_penalty is None else MODELS.build(gradient_penalty)
        self.update_order = tuple(update_order)
        self.input_keys = tuple(input_keys)
        self.range = RangeMap(network_range)
        self.clamp_output = clamp_output
        self.register_state_dict_post_hook(_drop_loss_state)
        self.register_load_state_dict_post_hook(_ignore_missing_loss_state)

    # -- generator and discriminator -------------------------------------------------
    def generate(self, inputs) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """(network input, aux or None, image), all in ``network_range``."""
        x = self.range.to_network(restorer_input(inputs, self.input_keys))
        out = self.generator(x)
        if isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise ValueError(f'the generator returned {len(out)} outputs; expected the image '
                                 'or (aux, image)')
            aux, image = out
        else:
            aux, image = None, out
        return x, aux, image

    def discriminate(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(condition, image) if self.conditional else self.discriminator(image)

    def attention_map(self, inputs, target: torch.Tensor) -> torch.Tensor:
        return attention_target_from_images(inputs['cloudy'], target, self.attention_upper)

    # -- losses --------------------------------------------------------------------
    def generator_losses(self, inputs, data_samples, x, aux, fake, real) -> Dict[str, torch.Tensor]:
        """Weighted generator terms; ``fake``/``real`` in ``network_range``."""
        if fake.shape != real.shape:
            raise ValueError(f'generator output {tuple(fake.shape)} does not match the target '
                             f'{tuple(real.shape)}; check in/out channels and input_keys')
        losses = {}
        with frozen(self.discriminator):
            scores = self.discriminate(x, fake)
        if self.adversarial == 'logistic':
            losses['loss_gan'] = self.adversarial_weight * self.gan_loss(scores, True)
        else:
            losses['loss_gan'] = self.adversarial_weight * self.wgan_g(scores)
        for name, fn in self.losses.items():
            losses[f'loss_{name}'] = self.pixel_weights[name] * fn(fake, real)
        if self.attention_loss is not None:
            if aux is None:
                raise ValueError('attention_loss is set but the generator returned only an image; '
                                 'it must return (attention, image)')
            m = self.attention_map(inputs, self.range.from_network(real))
            losses['loss_attention'] = self.attention_weight * self.attention_loss(aux[:, 0], m[:, 0])
        return losses

    def discriminator_losses(self, x, fake, real) -> Dict[str, torch.Tensor]:
        fake = fake.detach()
        real_scores = self.discriminate(x, real)
        fake_scores = self.discriminate(x, fake)
        if self.adversarial == 'logistic':
            losses = {'loss_d_real': self.gan_loss(real_scores, True),
                      'loss_d_fake': self.gan_loss(fake_scores, False)}
        else:
            # WGANCriticLoss, mean D(fake) - mean D(real), logged as its two halves.
            losses = {'loss_d_real': -real_scores.mean(), 'loss_d_fake': fake_scores.mean()}
        if self.gradient_penalty is not None:
            losses['loss_gp'] = self.gradient_penalty(lambda im: self.discriminate(x, im), real, fake)
        return losses

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        """Generator and discriminator terms of one batch (no update; for inspection)."""
        real = self.range.to_network(self.targets(data_samples))
        x, aux, fake = self.generate(inputs)
        losses = self.generator_losses(inputs, data_samples, x, aux, fake, real)
        losses.update(self.discriminator_losses(x, fake, real))
        return losses

    # -- MMEngine hooks ------------------------------------------------------------------
    def train_step(self, data, optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        missing = {'generator', 'discriminator'} - set(getattr(optim_wrapper, 'keys', lambda: [])())
        if missing:
            raise KeyError(f'GANRestorer.train_step needs an OptimWrapperDict with keys generator '
                           f'and discriminator; missing {sorted(missing)}. Use optim_wrapper=dict('
                           "constructor='MultiOptimWrapperConstructor', generator=..., "
                           'discriminator=...)')
        g_wrapper, d_wrapper = optim_wrapper['generator'], optim_wrapper['discriminator']
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        real = self.range.to_network(self.targets(samples))
        with g_wrapper.optim_context(self.generator):
            x, aux, fake = self.generate(inputs)
        log_vars = {}
        for step in self.update_order:
            if step == 'discriminator':
                d_wrapper.zero_grad()  # G's backward may have left gradients on D
                with d_wrapper.optim_context(self.discriminator):
                    d_losses = self.discriminator_losses(x, fake, real)
                d_total, d_log = self.parse_losses(d_losses)
                d_wrapper.update_params(d_total)
                log_vars.update({k: v.detach() for k, v in d_log.items() if k != 'loss'},
                                loss_d=d_total.detach())
            else:
                with g_wrapper.optim_context(self.generator):
                    g_losses = self.generator_losses(inputs, samples, x, aux, fake, real)
                g_total, g_log = self.parse_losses(g_losses)
                g_wrapper.update_params(g_total)
                log_vars.update({k: v.detach() for k, v in g_log.items() if k != 'loss'},
                                loss_g=g_total.detach())
        return log_vars

    def restore(self, inputs) -> torch.Tensor:
        return self._prediction(self.generate(inputs)[2])

    def _prediction(self, image: torch.Tensor) -> torch.Tensor:
        pred = self.range.from_network(image)
        return pred.clamp(-1, 1) if self.clamp_output else pred

    @torch.no_grad()
    def predict(self, inputs, data_samples):
        """Predictions, plus the generator's attention / mask map as ``aux_map``
        (SpA-GAN's spatial attention, AMGAN-CR's cloud mask) for visualisation."""
        _, aux, image = self.generate(inputs)
        for i, (sample, pred) in enumerate(zip(data_samples, self._prediction(image))):
            sample.pred = pred.detach()
            if aux is not None:
                sample.aux_map = aux[i, :1].detach().float()
        return data_samples


_LOSS_KEY = re.compile(r'(^|\.)(losses|attention_loss)\.')


def _drop_loss_state(module, state_dict, prefix, local_metadata):
    for key in [k for k in state_dict
                if k.startswith(prefix) and _LOSS_KEY.match(k[len(prefix):])]:
        del state_dict[key]


def _ignore_missing_loss_state(module, incompatible_keys):
    # Loss tensors (the frozen VGG16) are rebuilt from their own weights file.
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not _LOSS_KEY.search(k)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """One optimiser wrapper per named submodule, as an ``OptimWrapperDict``.

    Config (``optim_wrapper``)::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))

    Each key names an attribute of the model (``model.generator``), built with
    MMEngine's ``DefaultOptimWrapperConstructor``; ``paramwise_cfg`` may hold
    one entry per key. Wrapper-level keys given at the top level (``type``,
    ``loss_scale``, ``dtype``, ``accumulative_counts``, ``clip_grad``; e.g.
    ``type='AmpOptimWrapper'`` set by ``tools/train.py --amp``) apply to every
    submodule that does not set them itself.
    """

    SHARED_KEYS = ('type', 'loss_scale', 'dtype', 'accumulative_counts', 'clip_grad')

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        shared = {k: cfg.pop(k) for k in self.SHARED_KEYS if k in cfg}
        if not cfg:
            raise ValueError('MultiOptimWrapperConstructor needs one optim wrapper config per '
                             'submodule, e.g. generator=dict(...), discriminator=dict(...)')
        self.cfgs = {}
        for name, sub in cfg.items():
            if not isinstance(sub, dict) or 'optimizer' not in sub:
                raise ValueError(f'optim_wrapper.{name} must be an optim wrapper config with an '
                                 f'optimizer, got {sub!r}')
            merged = dict(shared)
            merged.update(sub)
            merged.setdefault('type', 'OptimWrapper')
            self.cfgs[name] = merged
        self.paramwise_cfg = dict(paramwise_cfg or {})
        unknown = set(self.paramwise_cfg) - set(self.cfgs)
        if unknown:
            raise KeyError(f'paramwise_cfg names {sorted(unknown)} with no optim wrapper config')

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.cfgs.items():
            sub = getattr(model, name, None)
            if not isinstance(sub, nn.Module):
                raise KeyError(f'optim_wrapper.{name}: the model ({type(model).__name__}) has no '
                               f'submodule {name!r}')
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, self.paramwise_cfg.get(name))(sub)
        return OptimWrapperDict(**wrappers)


__all__: List[str] = ['GANRestorer', 'MultiOptimWrapperConstructor', 'build_loss', 'fold_time',
                      'restorer_input', 'attention_target_from_images', 'RangeMap']
