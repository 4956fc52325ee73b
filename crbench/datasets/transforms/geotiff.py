"""Reading TIFF and GeoTIFF files: SEN12MS-CR (rasterio) and Sen2_MTC_New (tifffile).

Both readers check band count and dtype *before* decoding pixels and raise an
``ImageReadError`` that names the file and says what to do. Files are opened
read-only; GDAL is told not to write ``.aux.xml`` side-car files
(``GDAL_PAM_ENABLED=NO``) and not to list the file's folder on open
(``GDAL_DISABLE_READDIR_ON_OPEN``, which matters for SEN12MS-CR's folders of
hundreds of patches), so reading never modifies a dataset root.
"""
import os.path as osp
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from crbench.registry import TRANSFORMS
from .loading import ImageReadError

GDAL_READ_OPTIONS = dict(GDAL_PAM_ENABLED='NO', GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR')


def crs_string(crs) -> Optional[str]:
    """'EPSG:32633' when the CRS has an EPSG code, its WKT otherwise, None if absent."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f'EPSG:{epsg}' if epsg is not None else crs.to_wkt()


def geotiff_header(path: str, count: Optional[int] = None, dtype: Optional[str] = None) -> dict:
    """Open ``path`` read-only and return its header without decoding pixels.

    Returns ``dict(count, dtype, height, width, crs, transform, bounds)`` with
    ``crs`` as an 'EPSG:n' or WKT string and ``transform`` as the 6-tuple
    ``(a, b, c, d, e, f)`` of ``rasterio.Affine`` (``Affine(*t)`` rebuilds it:
    x = a·col + b·row + c, y = d·col + e·row + f). Raises ``ImageReadError`` if the
    file is missing or unreadable or has another band count / dtype than asked.
    """
    return _read_geotiff(path, count, dtype, None, decode=False)[1]


def _header(src) -> dict:
    """The header dict of an open rasterio dataset (see ``geotiff_header``)."""
    return dict(count=src.count, dtype=src.dtypes[0] if src.count else None,
                dtypes=tuple(src.dtypes), height=src.height, width=src.width,
                crs=crs_string(src.crs), transform=tuple(src.transform)[:6],
                bounds=tuple(src.bounds))


def check_bands(path: str, header: dict, count: Optional[int], dtype: Optional[str]) -> None:
    if count is not None and header['count'] != count:
        raise ImageReadError(
            f'{path!r} has {header["count"]} band(s) but {count} are expected here; the file '
            'does not belong to this modality (SEN12MS-CR: S1 = 2 bands VV,VH; S2 and S2 '
            'cloudy = 13 bands B1…B12): check that it sits in the right folder or re-extract it')
    if dtype is not None and any(d != dtype for d in header['dtypes']):
        raise ImageReadError(
            f'{path!r} stores {"/".join(sorted(set(header["dtypes"])))} but {dtype} is '
            'expected (SEN12MS-CR: S1 float32 dB, S2 uint16 reflectance ×10000); the file was '
            'converted or belongs to another product: re-extract it from the original archive')


def check_band_indices(path: str, bands: Optional[Sequence[int]], available: int) -> None:
    """Refuse 0-based band indices that ``path`` (with ``available`` bands) does not have."""
    bad = [b for b in bands or () if not 0 <= int(b) < available]
    if bad:
        raise ImageReadError(f'{path!r} has {available} band(s); band index(es) {bad} (0-based) '
                             'do not exist: check the `bands` option of the loading transform')


def read_geotiff(path: str, count: Optional[int] = None, dtype: Optional[str] = None,
                 bands: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, dict]:
    """Read a GeoTIFF as an H×W×C float32 array plus its header (see ``geotiff_header``).

    ``bands`` (0-based) selects bands after the count check; only those bands
    are decoded. The file is opened once (header checks and pixels). Values are
    not scaled; NaN stays NaN.
    """
    array, header = _read_geotiff(path, count, dtype, bands, decode=True)
    return np.moveaxis(array.astype(np.float32, copy=False), 0, -1), header


def _read_geotiff(path: str, count: Optional[int], dtype: Optional[str],
                  bands: Optional[Sequence[int]], decode: bool):
    """(C×H×W pixels of ``bands`` or None, checked header) of ``path``, opened once."""
    import rasterio
    from rasterio.errors import RasterioError
    if not osp.isfile(path):
        raise ImageReadError(f'GeoTIFF {path!r} does not exist')
    with rasterio.Env(**GDAL_READ_OPTIONS):
        try:
            src = rasterio.open(path, 'r')
        except RasterioError as err:
            raise ImageReadError(f'cannot open GeoTIFF {path!r} ({err}); the file is corrupt '
                                 'or truncated: re-extract it from the dataset archive') from None
        with src:
            header = _header(src)
            check_bands(path, header, count, dtype)
            if not decode:
                return None, header
            check_band_indices(path, bands, header['count'])
            indexes = [b + 1 for b in bands] if bands is not None else None
            try:
                return src.read(indexes), header
            except RasterioError as err:
                raise ImageReadError(f'cannot decode the pixels of {path!r} ({err}); the file '
                                     'is corrupt or truncated: re-extract it from the dataset '
                                     'archive') from None


@TRANSFORMS.register_module()
class LoadGeoTIFFBands(BaseTransform):
    """Load GeoTIFFs with rasterio into H×W×C float32 arrays and carry the georeference.

    Args:
        sources: output key → ``dict(path_key=..., count=..., dtype=..., bands=None)``:
            the result key holding the path, the band count and dtype the file must
            have, and optionally the 0-based bands to keep. SEN12MS-CR uses
            ``cloudy`` (13, uint16), ``sar`` (2, float32) and ``gt`` (13, uint16).
        georef_from: the output key whose file gives ``crs`` ('EPSG:n' or WKT),
            ``transform`` (6-tuple a, b, c, d, e, f) and ``bounds``.
        grid_check: what to do if another file's CRS/transform differs from
            ``georef_from``'s: 'warn' (default), 'error' or 'ignore'.
    """

    def __init__(self, sources: Dict[str, dict], georef_from: Optional[str] = 'gt',
                 grid_check: str = 'warn'):
        if grid_check not in ('warn', 'error', 'ignore'):
            raise ValueError(f"grid_check must be 'warn', 'error' or 'ignore', got {grid_check!r}")
        self.sources = {key: dict(spec) for key, spec in sources.items()}
        for key, spec in self.sources.items():
            if 'path_key' not in spec:
                raise ValueError(f'LoadGeoTIFFBands: source {key!r} needs a path_key')
        if georef_from is not None and georef_from not in self.sources:
            raise ValueError(f'georef_from={georef_from!r} is not one of the sources '
                             f'{sorted(self.sources)}')
        self.georef_from, self.grid_check = georef_from, grid_check

    def transform(self, results: dict) -> dict:
        headers = {}
        for key, spec in self.sources.items():
            path = results[spec['path_key']]
            results[key], headers[key] = read_geotiff(path, spec.get('count'), spec.get('dtype'),
                                                      spec.get('bands'))
        if self.georef_from is not None:
            ref = headers[self.georef_from]
            results['crs'], results['transform'] = ref['crs'], ref['transform']
            results['bounds'] = ref['bounds']
            results['img_shape'] = (ref['height'], ref['width'])
            self._check_grid(results, headers)
        return results

    def _check_grid(self, results: dict, headers: dict) -> None:
        if self.grid_check == 'ignore':
            return
        ref_key = self.georef_from
        ref = headers[ref_key]
        for key, header in headers.items():
            same = (header['crs'] == ref['crs']
                    and (header['height'], header['width']) == (ref['height'], ref['width'])
                    and np.allclose(header['transform'], ref['transform'], rtol=0, atol=1e-6))
            if same:
                continue
            message = (f'{results[self.sources[key]["path_key"]]!r} is not on the grid of '
                       f'{results[self.sources[ref_key]["path_key"]]!r} (CRS {header["crs"]} vs '
                       f'{ref["crs"]}, transform {header["transform"]} vs {ref["transform"]}, '
                       f'size {header["width"]}×{header["height"]} vs {ref["width"]}×'
                       f'{ref["height"]}); the files of one sample should be co-registered')
            if self.grid_check == 'error':
                raise ImageReadError(message)
            warnings.warn(message)

    def __repr__(self):
        return (f'{self.__class__.__name__}(sources={self.sources}, '
                f'georef_from={self.georef_from!r}, grid_check={self.grid_check!r})')


def tiff_header(path: str, channels: Optional[int] = None) -> dict:
    """Shape, dtype and layout of a plain (pixel-interleaved) TIFF, without decoding it.

    Sen2_MTC_New files must decode as H×W×C. A band-sequential file (planar
    configuration 'separate', or one page per band) decodes as C×H×W and would be
    silently mis-read by a loader that transposes (docs/datasets.md §5.5), so it is
    refused here with an ``ImageReadError``.
    """
    return _read_tiff(path, channels, decode=False)[0]


def _read_tiff(path: str, channels: Optional[int], decode: bool):
    """(checked header, decoded array or None) of ``path``, opened once."""
    import tifffile
    if not osp.isfile(path):
        raise ImageReadError(f'TIFF file {path!r} does not exist')
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, KeyError) as err:
        raise ImageReadError(f'cannot open TIFF {path!r} ({err}); the file is corrupt or '
                             'truncated: re-extract it from the dataset archive') from None
    with tif:
        try:
            page, series = tif.pages[0], tif.series[0]
            header = dict(shape=tuple(series.shape), axes=series.axes,
                          dtype=np.dtype(page.dtype), pages=len(tif.pages))
        except (tifffile.TiffFileError, ValueError, IndexError, OSError, KeyError) as err:
            raise ImageReadError(f'cannot open TIFF {path!r} ({err}); the file is corrupt or '
                                 'truncated: re-extract it from the dataset archive') from None
        _check_tiff_header(path, header, channels)
        if not decode:
            return header, None
        try:
            return header, tif.asarray()
        except Exception as err:  # tifffile raises many types for damaged files
            raise ImageReadError(f'cannot decode the pixels of {path!r} ({err}); the file is '
                                 'corrupt or truncated: re-extract it') from None


def _check_tiff_header(path: str, header: dict, channels: Optional[int]) -> None:
    shape = header['shape']
    # What matters is the decoded array: bands first (a planar file, axes 'SYX', or one
    # page per band) is refused; one page per row ('QYX' with bands last, which
    # tifffile.imwrite(..., photometric='minisblack') writes) decodes as H×W×C and is fine.
    bands_first = len(shape) == 3 and (
        header['axes'].startswith('S') or (channels is not None and shape[0] == channels
                                           and shape[2] != channels))
    if bands_first:
        raise ImageReadError(
            f'{path!r} is stored band-sequential (planar, decodes as {shape[0]}×{shape[1]}×'
            f'{shape[2]} = C×H×W, axes {header["axes"]!r}); Sen2_MTC_New files are '
            'pixel-interleaved H×W×C. Convert it once with '
            "tifffile.imwrite(path, tifffile.imread(path).transpose(1, 2, 0), "
            "photometric='minisblack', planarconfig='contig') or re-extract the original file")
    if len(shape) != 3 or (channels is not None and shape[2] != channels):
        raise ImageReadError(
            f'{path!r} decodes with shape {shape} (axes {header["axes"]!r}) but H×W×'
            f'{channels if channels is not None else "C"} is expected (Sen2_MTC_New: 4 bands '
            'R, G, B, NIR, bands last); the file does not belong to this dataset or was '
            'converted: re-extract it')
    if not np.issubdtype(header['dtype'], np.number):
        raise ImageReadError(f'{path!r} stores {header["dtype"]}, not numbers; re-extract it')


def read_hwc_tiff(path: str, channels: Optional[int] = None,
                  bands: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read a pixel-interleaved TIFF as H×W×C float32 (raw values, no scaling).

    The file is opened once for the header checks and the pixels.
    """
    array = _read_tiff(path, channels, decode=True)[1]
    if bands is not None:
        check_band_indices(path, bands, array.shape[-1] if array.ndim == 3 else 1)
        array = array[..., list(bands)]
    return array.astype(np.float32)


@TRANSFORMS.register_module()
class LoadTIFFBands(BaseTransform):
    """Load pixel-interleaved TIFFs (tifffile) into H×W×C float32 arrays.

    A path key holding a list of paths (Sen2_MTC_New's cloudy time steps) is
    stacked into T×H×W×C; ``PackCRInputs`` turns that into T×C×H×W.

    Args:
        sources: output key → ``dict(path_key=..., channels=4, bands=None)``:
            the result key holding the path(s), the channel count every file must
            have, and optionally the 0-based bands to keep (Sen2_MTC_New target:
            ``bands=[0, 1, 2]``, RGB; the NIR of the clear image is discarded).
    """

    def __init__(self, sources: Dict[str, dict]):
        self.sources = {key: dict(spec) for key, spec in sources.items()}
        for key, spec in self.sources.items():
            if 'path_key' not in spec:
                raise ValueError(f'LoadTIFFBands: source {key!r} needs a path_key')

    def transform(self, results: dict) -> dict:
        for key, spec in self.sources.items():
            paths = results[spec['path_key']]
            read = [read_hwc_tiff(p, spec.get('channels'), spec.get('bands'))
                    for p in ([paths] if isinstance(paths, str) else paths)]
            shapes = {a.shape for a in read}
            if len(shapes) > 1:
                raise ImageReadError(f'the files {list(paths)} of one sample have different '
                                     f'shapes {sorted(shapes)}; they must be co-registered')
            results[key] = read[0] if isinstance(paths, str) else np.stack(read, axis=0)
            results.setdefault('img_shape', read[0].shape[:2])
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(sources={self.sources})'
