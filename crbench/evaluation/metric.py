"""``CRMetric``: the MMEngine metric that applies a named protocol.

Config example::

    val_evaluator = dict(type='CRMetric', protocol='cuhk_official')

Per sample it reads ``pred`` and ``gt`` (C×H×W, [-1, 1]) from the data sample
(MMEngine passes ``CRDataSample.to_dict()``, so metainfo keys such as
``sample_id`` and ``gt_path`` sit at the top level), computes one value per
metric, and ``compute_metrics`` returns the NaN-skipping means plus
``n_images`` (docs/datasets.md §6, "Aggregation").

Per-image records. ``per_image`` holds, after an evaluation, one dict per
scored image: ``sample_id``, every metric, and ``cloud_fraction`` (the share of
cloud pixels of the ground-truth mask) where the sample has one. ``tools/test.py``
writes them beside the run JSON (crbench/results.py); the bootstrap intervals
and ``tools/compare_runs.py`` are computed from them. ``sample_id`` and
``cloud_fraction`` describe the image and are not averaged.

LPIPS policy (``docs/contracts.md``, "Metrics"; docs/environment.md "LPIPS"):
the real AlexNet weights are needed for a number called ``LPIPS``. If they
are absent, a warning is logged once, LPIPS is omitted and
``unavailable == ['LPIPS']``. With ``allow_random_lpips=True`` (tests only)
a random backbone is used instead and its value is reported under
``LPIPS_RANDOM_BACKBONE_TEST_ONLY``, never ``LPIPS``.
"""
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from crbench.registry import METRICS
from .lpips_metric import (LPIPSUnavailableError, build_lpips,
                           find_alexnet_weights)
from .protocols import get_protocol, nanmean_results

RANDOM_LPIPS_KEY = 'LPIPS_RANDOM_BACKBONE_TEST_ONLY'
# Per-image fields that describe the image, not a metric: never averaged.
DESCRIPTIVE_KEYS = ('sample_id', 'cloud_fraction')
_ID_KEYS = ('sample_id', 'gt_path', 'img_path', 'cloudy_path')


def _field(sample: Any, key: str) -> Any:
    """``sample[key]`` for dicts, ``getattr`` for data elements, else None."""
    if isinstance(sample, dict):
        if key in sample:
            return sample[key]
        meta = sample.get('metainfo')
        return meta.get(key) if isinstance(meta, dict) else None
    return getattr(sample, key, None)


def _describe(sample: Any, index: int) -> str:
    """Human-readable identity of a sample for error messages."""
    ids = [f'{k}={_field(sample, k)!r}' for k in _ID_KEYS
           if _field(sample, k) is not None]
    return ', '.join(ids) if ids else f'batch position {index} (no sample_id)'


@METRICS.register_module()
class CRMetric(BaseMetric):
    """Cloud-removal metric for one evaluation protocol.

    Args:
        protocol: one of ``crbench.evaluation.PROTOCOLS``.
        protocol_options: keyword options of the protocol (e.g.
            ``dict(rgb_bands=(3, 2, 1))`` for ``standard`` on SEN12MS-CR).
        lpips_weights: path of torchvision's ``alexnet-owt-7be5be79.pth``;
            default: env ``CRBENCH_ALEXNET_WEIGHTS``, then the torch hub cache.
        allow_random_lpips: tests only; see the module docstring.
        collect_device, prefix: as in ``mmengine.evaluator.BaseMetric``.
    """

    default_prefix: Optional[str] = None

    def __init__(self, protocol: str,
                 protocol_options: Optional[Dict[str, Any]] = None,
                 lpips_weights: Optional[str] = None,
                 allow_random_lpips: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.protocol = get_protocol(protocol, **(protocol_options or {}))
        self.lpips_weights = lpips_weights
        self.allow_random_lpips = allow_random_lpips
        self._lpips_model: Optional[torch.nn.Module] = None
        self._lpips_resolved = False
        self._lpips_key = 'LPIPS'
        self._unavailable: List[str] = []
        self.per_image: List[Dict[str, Any]] = []

    # ------------------------------------------------------------ LPIPS
    def _resolve_lpips(self) -> None:
        """Decide once whether and which LPIPS to use (file lookup only)."""
        if self._lpips_resolved:
            return
        self._lpips_resolved = True
        if not self.protocol.uses_lpips:
            return
        try:
            find_alexnet_weights(self.lpips_weights)
            return
        except LPIPSUnavailableError as err:
            self._unavailable = ['LPIPS']
            if self.allow_random_lpips:
                self._lpips_key = RANDOM_LPIPS_KEY
                print_log('LPIPS uses a RANDOM AlexNet backbone (test only); '
                          f'reported as {RANDOM_LPIPS_KEY}', logger='current',
                          level=logging.WARNING)
            else:
                print_log(f'LPIPS omitted from the results: {err}',
                          logger='current', level=logging.WARNING)

    @property
    def unavailable(self) -> List[str]:
        """Metrics of the protocol that cannot be reported (e.g. ['LPIPS'])."""
        self._resolve_lpips()
        return list(self._unavailable)

    def _lpips(self, device: torch.device) -> Optional[torch.nn.Module]:
        """The LPIPS model on ``device`` (built lazily, once) or None."""
        self._resolve_lpips()
        if not self.protocol.uses_lpips:
            return None
        if self._unavailable and not self.allow_random_lpips:
            return None
        if self._lpips_model is None:
            self._lpips_model = build_lpips(
                self.lpips_weights,
                allow_random_backbone=self.allow_random_lpips)
            if self._lpips_model.random_backbone:
                self._lpips_key = RANDOM_LPIPS_KEY
        return self._lpips_model.to(device)

    # ------------------------------------------------------- processing
    @staticmethod
    def _pair(sample: Any, index: int):
        """Validated (pred, gt) of one sample as 1×C×H×W tensors."""
        who = _describe(sample, index)
        pred, gt = _field(sample, 'pred'), _field(sample, 'gt')
        for key, t in (('pred', pred), ('gt', gt)):
            if not isinstance(t, torch.Tensor):
                raise KeyError(f'data sample {who} has no tensor {key!r} '
                               f'(got {type(t).__name__}); the model must '
                               'set data_sample.pred and the dataset '
                               'data_sample.gt')
            if t.dim() != 3:
                raise ValueError(f'{key} of sample {who} must be C×H×W, got '
                                 f'shape {tuple(t.shape)}')
        if pred.shape != gt.shape:
            raise ValueError(f'sample {who}: pred shape {tuple(pred.shape)} '
                             f'!= gt shape {tuple(gt.shape)}; the model must '
                             'output the same bands and size as the target')
        if not torch.isfinite(pred).all():
            raise ValueError(f'sample {who}: the prediction contains NaN or '
                             'inf values; fix the model or its sampler')
        if torch.isnan(gt).any():
            raise ValueError(f'sample {who}: the ground truth contains NaN; '
                             'check the dataset preprocessing')
        return pred.detach().unsqueeze(0), gt.detach().to(pred.device)[None]

    def _rows(self, pairs) -> List[Dict[str, float]]:
        """Protocol values of each (pred, gt) pair, one protocol call per run
        of consecutive equal-shape pairs (a batch is stacked, not looped)."""
        rows: List[Dict[str, float]] = []
        start = 0
        while start < len(pairs):
            end = start + 1
            while (end < len(pairs) and pairs[end][0].shape == pairs[start][0].shape
                   and pairs[end][0].device == pairs[start][0].device):
                end += 1
            pred = torch.cat([p for p, _ in pairs[start:end]])
            gt = torch.cat([g for _, g in pairs[start:end]])
            values = {k: v.tolist() for k, v in
                      self.protocol(pred, gt, self._lpips(pred.device)).items()}
            rows += [{k: float(v[i]) for k, v in values.items()} for i in range(end - start)]
            start = end
        return rows

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Compute the per-image metrics of a batch and store them.

        Only these per-image values are kept, never the predictions, so a
        test set is evaluated streaming, batch by batch.
        """
        pairs = [self._pair(sample, index) for index, sample in enumerate(data_samples)]
        rows = self._rows(pairs)
        for index, sample in enumerate(data_samples):
            pred, gt = pairs[index]
            row = rows[index]
            if 'LPIPS' in row and self._lpips_key != 'LPIPS':
                row[self._lpips_key] = row.pop('LPIPS')
            cloud_mask = _field(sample, 'mask')
            if isinstance(cloud_mask, torch.Tensor):
                row.update(cloudy_clear_errors(pred[0], gt[0], cloud_mask.to(pred.device)))
                row['cloud_fraction'] = float((cloud_mask > 0.5).double().mean())
            sample_id = _field(sample, 'sample_id')
            row['sample_id'] = str(sample_id) if sample_id is not None else None
            self.results.append(row)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """NaN-skipping mean over images of every metric, plus n_images.

        Keeps the per-image rows (all ranks' rows, on the main process) in ``per_image``.
        """
        self.per_image = [dict(r) for r in results]
        metrics = nanmean_results([{k: v for k, v in r.items() if k not in DESCRIPTIVE_KEYS}
                                   for r in results])
        metrics['n_images'] = len(results)
        return metrics


def cloudy_clear_errors(pred: torch.Tensor, gt: torch.Tensor, cloud_mask: torch.Tensor) -> dict:
    """RMSE and MAE inside and outside the cloud mask, as UnCRtainTS reports them.

    ``pred``/``gt`` are C×H×W in [-1, 1], mapped to [0, 1] with (x + 1) / 2 and not
    clamped, like the official protocols' RMSE (docs/datasets.md §2.8 step 2, §4.8); ``cloud_mask`` is 1×H×W with 1 = cloud. A region without
    pixels gives NaN, which the NaN-skipping mean over images leaves out.
    """
    diff = ((pred - gt) / 2).double()
    cloudy = (cloud_mask > 0.5).expand_as(diff)
    row = {}
    for name, region in (('cloudy', cloudy), ('clear', ~cloudy)):
        values = diff[region]
        if values.numel() == 0:
            row[f'RMSE_{name}'] = row[f'MAE_{name}'] = float('nan')
        else:
            row[f'RMSE_{name}'] = float(values.pow(2).mean().sqrt())
            row[f'MAE_{name}'] = float(values.abs().mean())
    return row
