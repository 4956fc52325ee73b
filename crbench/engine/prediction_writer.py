"""Write test predictions in the dataset's own units and file format."""
import os
import os.path as osp
from typing import Sequence, Tuple

import numpy as np
from mmengine.hooks import Hook

from crbench.datasets.transforms.processing import SymmetricScaling, scalings_from_pipeline
from crbench.registry import HOOKS


def dataset_dtype(scaling: SymmetricScaling):
    """The integer type the dataset stores: uint8 for a range up to 255 (CUHK-CR, RICE),
    uint16 beyond (reflectance ×10,000: SEN12MS-CR, Sen2_MTC_New)."""
    return np.uint8 if scaling.hi <= 255 else np.uint16


def to_dataset_units(pred: np.ndarray, scaling: SymmetricScaling, dtype=None) -> np.ndarray:
    """Invert the pipeline's scaling, then round and clip to ``dtype`` (default:
    :func:`dataset_dtype`) and [lo, hi]."""
    dtype = dataset_dtype(scaling) if dtype is None else dtype
    values = scaling.inverse(pred)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.round(values), max(info.min, scaling.lo), min(info.max, scaling.hi))
    return values.astype(dtype)


def output_scaling(pipeline: Sequence[dict]) -> SymmetricScaling:
    """The scaling whose inverse maps predictions back to the dataset's units: the
    pipeline's ``RescaleToSymmetric`` of the target (``gt``), else of ``cloudy``."""
    found = scalings_from_pipeline(pipeline)
    scaling = found.get('gt', found.get('cloudy'))
    if scaling is None:
        raise ValueError('the test pipeline has no RescaleToSymmetric, so the dataset\'s units '
                         'are unknown; cannot map predictions back to them')
    return scaling


def find_value_range(pipeline: Sequence[dict]) -> Tuple[float, float]:
    """The ``in_range`` with which the pipeline scales the target to [-1, 1]."""
    scaling = output_scaling(pipeline)
    return scaling.lo, scaling.hi


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Save every test prediction next to nothing else, in the source's format.

    * GeoTIFF sources (SEN12MS-CR): a GeoTIFF with the source's CRS and transform,
      uint16 in the dataset's DN range, band descriptions from ``band_names``;
    * other TIFF sources (Sen2_MTC_New): a TIFF, bands last as the source;
    * PNG sources (CUHK-CR, RICE): an RGB PNG, plus ``<id>_<band>.png`` in gray for
      any further band (CUHK-CR's NIR), uint8.

    So predictions open in QGIS (or any viewer) next to the inputs.
    """

    def __init__(self, out_dir: str, value_range: Tuple[float, float] = (0.0, 255.0)):
        self.out_dir, self.value_range = out_dir, tuple(value_range)

    def before_test(self, runner) -> None:
        os.makedirs(self.out_dir, exist_ok=True)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        for sample in outputs or []:
            self.write(sample)

    def write(self, sample) -> str:
        meta = sample.metainfo
        pred = sample.pred.detach().float().cpu().numpy()  # C×H×W in [-1, 1]
        name = str(meta.get('sample_id', 'prediction'))
        source = meta.get('gt_path') or ''
        data = to_dataset_units(pred, SymmetricScaling(*self.value_range))
        if meta.get('crs') is not None or source.lower().endswith(('.tif', '.tiff')):
            return self._write_tiff(data, name, meta, geo=meta.get('crs') is not None)
        return self._write_png(data, name, meta)

    def _write_tiff(self, data: np.ndarray, name: str, meta: dict, geo: bool) -> str:
        import rasterio
        from rasterio.transform import Affine
        path = osp.join(self.out_dir, f'{name}.tif')
        profile = dict(driver='GTiff', width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype.name)
        if geo:
            profile.update(crs=meta['crs'], transform=Affine(*meta['transform'][:6]))
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(data)
            for i, band in enumerate(meta.get('band_names') or [], start=1):
                if i <= data.shape[0]:
                    dst.set_band_description(i, str(band))
        return path

    def _write_png(self, data: np.ndarray, name: str, meta: dict) -> str:
        from PIL import Image
        bands = list(meta.get('band_names') or [f'b{i}' for i in range(data.shape[0])])
        path = osp.join(self.out_dir, f'{name}.png')
        if data.shape[0] >= 3:
            Image.fromarray(np.ascontiguousarray(data[:3].transpose(1, 2, 0))).save(path)
            extra = range(3, data.shape[0])
        else:
            extra = range(data.shape[0])
        for i in extra:
            Image.fromarray(data[i]).save(osp.join(self.out_dir, f'{name}_{bands[i]}.png'))
        return path
