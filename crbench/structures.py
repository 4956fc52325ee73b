"""The data sample that travels with every image through crbench."""
from mmengine.structures import BaseDataElement


class CRDataSample(BaseDataElement):
    """One cloud-removal sample.

    Data fields (tensors, float in [-1, 1], ``C×H×W``):
        gt:    the cloud-free target.
        pred:  the model's prediction (set by a framework's ``predict``).
        mask:  optional ground-truth cloud mask, ``1×H×W``, 1 = cloud (RICE2);
               the metric then also reports errors inside and outside clouds.
    Metainfo (set by the dataset): ``sample_id``, ``cloudy_path``, ``gt_path``,
    ``band_names``, ``dataset``, ``synthetic`` and, for GeoTIFF sources, ``crs``
    and ``transform`` so that predictions can be written back geo-referenced.
    """

    @property
    def gt(self):
        return self._gt

    @gt.setter
    def gt(self, value):
        self.set_field(value, '_gt')

    @gt.deleter
    def gt(self):
        del self._gt

    @property
    def pred(self):
        return self._pred

    @pred.setter
    def pred(self, value):
        self.set_field(value, '_pred')

    @pred.deleter
    def pred(self):
        del self._pred

    @property
    def mask(self):
        return self._mask

    @mask.setter
    def mask(self, value):
        self.set_field(value, '_mask')

    @mask.deleter
    def mask(self):
        del self._mask
