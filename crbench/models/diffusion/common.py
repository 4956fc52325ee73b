"""What the diffusion frameworks (DE, EMRDM, DiffCR) share: reading the batch inputs and
setting up a sampling call.

EMRDM and DiffCR take ``inputs['cloudy']`` as B×C×H×W (one date) or B×L×C×H×W (L dates),
optionally ``inputs['sar']``, and let a config pick bands of the cloudy image by index.
Samplers (``crbench/samplers``) own only the reverse-time loop; the frameworks reach them
through the registry.
"""
from typing import Callable, Dict, Optional, Sequence, Union

import torch
from torch import Tensor

from crbench.registry import DIFFUSION_SAMPLERS


def cloudy_of(inputs: Dict[str, Tensor], framework: str) -> Tensor:
    """``inputs['cloudy']``, checked: a dict holding it, 4 or 5 dimensions."""
    if not isinstance(inputs, dict) or 'cloudy' not in inputs:
        keys = list(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise KeyError(f"{framework} needs inputs['cloudy'] (B x C x H x W or "
                       f'B x L x C x H x W); got {keys}')
    cloudy = inputs['cloudy']
    if cloudy.dim() not in (4, 5):
        raise ValueError("inputs['cloudy'] must be B x C x H x W or B x L x C x H x W, got "
                         f'shape {tuple(cloudy.shape)}')
    return cloudy


def select_bands(cloudy: Tensor, bands: Optional[Sequence[int]], name: str) -> Tensor:
    """``cloudy[..., bands, :, :]`` (all bands when ``bands`` is None); a band ``cloudy``
    lacks is an error naming the ``name`` option."""
    if bands is None:
        return cloudy
    num = cloudy.shape[-3]
    bad = [b for b in bands if not -num <= b < num]
    if bad:
        raise ValueError(f'{name}={list(bands)} selects bands {bad} that inputs[\'cloudy\'] '
                         f'(shape {tuple(cloudy.shape)}, {num} bands) does not have')
    index = torch.as_tensor([b % num for b in bands], dtype=torch.long, device=cloudy.device)
    return cloudy.index_select(-3, index)


def seeded_generator(seed: Optional[int], device) -> Optional[torch.Generator]:
    """A generator on ``device`` seeded with ``seed`` (a framework's ``sampling_seed``: every
    ``restore`` call then draws the same noise), or None (torch's global generator)."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)


def outside_inference(out: Tensor) -> Tensor:
    """A sampler's result made under ``torch.inference_mode`` as an ordinary tensor (a clone)
    unless the caller is itself in inference mode."""
    return out.clone() if out.is_inference() and not torch.is_inference_mode_enabled() else out


def build_sampler(sampler: Union[dict, Callable], process) -> Callable:
    """The framework's sampler from its ``model.sampler`` config (or a sampler object),
    checked against ``process`` so that a wrong pairing fails at build time, not after
    training. Config keys and types are checked earlier, by the tools
    (``crbench.apis.check_override_keys`` / ``check_registered_types``)."""
    if isinstance(sampler, dict):
        sampler = DIFFUSION_SAMPLERS.build(sampler)
    if hasattr(sampler, 'check_process'):
        sampler.check_process(process)
    return sampler
