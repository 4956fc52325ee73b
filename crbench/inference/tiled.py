"""Cloud removal on whole scenes of any size, tile by tile, in bounded memory.

A mono-temporal model (any registered framework: ``model.restore({'cloudy': x})``)
runs on overlapping tiles read from the input raster with rasterio windows. The
predictions are blended and written, one strip of tile rows at a time, to a
GeoTIFF with the input's CRS, transform and nodata.

Blending. Along each axis a tile's weight is a product of two ramps, one at
each side shared with a neighbouring tile (a side on the scene border has no
ramp: weight 1 up to the border):

    0                         for the first ``margin`` pixels,
    sin²(π (u + ½) / (2 R))   for u = 0 … R-1, R = overlap - 2·margin pixels,
    1                         beyond.

Two neighbours' ramps over the same ``overlap`` pixels sum to 1 (sin² + cos²),
so the blend is smooth and seamless, and every output pixel is the weighted
mean of the tiles that cover it (the weights are normalised anyway, which also
covers the wider overlap of the last tile, shifted to end at the border). The
``margin`` pixels next to an inner tile edge get weight 0: a model whose
receptive field radius is at most ``margin`` gives exactly its untiled output
(up to float rounding); larger models (U-Nets) get the smooth blend.

Memory. The scene is never loaded; the peak does not depend on its height.
Three terms, for ``C_in`` input and ``C_out`` output bands of ``s_in`` and
``s_out`` bytes per value (e.g. 2 for uint16, 4 for float32):

1. One strip of ``tile`` rows over the whole ``width``, at most::

       tile * width * (4 (C_out + 1) + (20 + s_out) C_out + (s_in + 1) C_in)  bytes

   ``4 (C_out + 1)`` is the float32 accumulator and weights, held throughout;
   the rest is transient while a finished strip is written (the normalised
   values, float32, mapped back to output units in float64, cast to the output
   type, the shifted copy of the accumulator, and the strip's input rows re-read
   with their nodata mask). E.g. 4 uint16 bands written as float32, ``tile=256``,
   ``width=2048``: 64 MiB; a 10980-pixel-wide 13-band uint16 Sentinel-2 tile:
   about 1 GiB. ``overlap`` does not enter the bound (only how many rows a strip
   finishes: ``tile - overlap``).
2. ``batch_size`` tiles through the network: input, activations and output of a
   ``tile`` × ``tile`` batch (model dependent, independent of the scene).
3. GDAL's raster block cache, which keeps the input's and the output's blocks as
   the scene is traversed, so it grows with the scene up to ``GDAL_CACHEMAX``
   (GDAL's default: 5 % of physical RAM). Unless ``GDAL_CACHEMAX`` is set in the
   environment, :func:`restore_scene` caps it at two rows of output blocks
   (:func:`default_cache_mb`, at least 64 MB); count up to about
   twice the cap in resident memory (allocator overhead; measured 1.3-2×). Keep
   the cap above one block row of the output (``C_out * 256 * width * s_out``
   for the 256×256 output blocks), or GDAL flushes half-written compressed
   blocks and rewrites them, which inflates the output file.

``tests/inference/test_tiled_memory.py`` checks 1 + 2 + 2 × ``GDAL_CACHEMAX``
on 1024×1024, 4096×1024 and 2048×2048 scenes, each in a fresh process.

Scaling. The model works in [-1, 1]; the input's units come from the config's
test pipeline (its ``RescaleToSymmetric`` for ``cloudy``: ``in_range``, ``clip``
and ``nan_value`` applied exactly as in the pipeline), and predictions are mapped
back with the inverse of the target's (``gt``) rescaling before writing.
Resolution-changing transforms of the pipeline (``MatlabResize``) are *not*
applied: scenes are processed at their native resolution.
"""
import math
import os
import os.path as osp
import tempfile
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from crbench.datasets.transforms.geotiff import GDAL_READ_OPTIONS
from crbench.datasets.transforms.processing import SymmetricScaling, scalings_from_pipeline


class SceneInferenceError(ValueError):
    """The scene, the options or the model cannot be used for tiled inference."""


# --------------------------------------------------------------------------- scaling
def _pipeline_of(cfg) -> list:
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset') and loader.dataset.get('pipeline') is not None:
            return list(loader.dataset.pipeline)
    return []


def scaling_from_config(cfg) -> Tuple[SymmetricScaling, SymmetricScaling]:
    """(input scaling, output scaling) read from the config's test pipeline: the
    ``RescaleToSymmetric`` of ``cloudy`` and of ``gt`` (the same one for CUHK-CR,
    RICE, SEN12MS-CR, Sen2_MTC_New)."""
    from crbench.engine.prediction_writer import output_scaling
    pipeline = _pipeline_of(cfg)
    found = scalings_from_pipeline(pipeline)
    if 'cloudy' not in found:
        raise SceneInferenceError(
            'the config\'s test pipeline has no RescaleToSymmetric for "cloudy", so the input '
            'units are unknown; pass the range explicitly (--in-range LO HI)')
    return found['cloudy'], output_scaling(pipeline)


def check_mono_temporal(cfg, model) -> None:
    """Refuse models that need more than one cloudy image (or SAR) per sample."""
    keys = tuple(getattr(model, 'input_keys', ('cloudy',)))
    if keys != ('cloudy',):
        raise SceneInferenceError(
            f'this model reads the inputs {list(keys)}; scene inference supports mono-temporal '
            'optical models that read only "cloudy"')
    if cfg is not None and (cfg.get('num_frames') or 0) > 1:
        raise SceneInferenceError(
            f'the config is multi-temporal (num_frames={cfg.num_frames}); scene inference '
            'supports mono-temporal models only')
    for step in _pipeline_of(cfg) if cfg is not None else []:
        extra = [k for k in step.get('input_keys', ('cloudy',)) if k != 'cloudy'] \
            if step.get('type') == 'PackCRInputs' else []
        if extra:
            raise SceneInferenceError(
                f'the config\'s pipeline packs the inputs {extra} besides "cloudy"; scene '
                'inference supports mono-temporal optical models only')


# --------------------------------------------------------------------------- geometry
def tile_starts(size: int, tile: int, stride: int) -> List[int]:
    """Start offsets of tiles of length ``tile`` covering ``[0, size)``; the last
    one is shifted back to end at ``size``, so every tile is whole."""
    if tile >= size:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return sorted(set(starts))


def blend_ramp(overlap: int, margin: int) -> np.ndarray:
    """The rising ramp over ``overlap`` pixels (module docstring); float64."""
    ramp = np.ones(overlap, dtype=np.float64)
    ramp[:margin] = 0.0
    width = overlap - 2 * margin
    u = np.arange(width, dtype=np.float64)
    ramp[margin:margin + width] = np.sin(np.pi * (u + 0.5) / (2 * width)) ** 2
    return ramp


def blend_window_1d(length: int, overlap: int, margin: int, ramp_start: bool,
                    ramp_end: bool) -> np.ndarray:
    """Weights of one tile along one axis; sides on the scene border get no ramp."""
    weight = np.ones(length, dtype=np.float64)
    if overlap == 0:
        return weight
    ramp = blend_ramp(overlap, margin)
    n = min(overlap, length)
    if ramp_start:
        weight[:n] *= ramp[:n]
    if ramp_end:
        weight[length - n:] *= ramp[:n][::-1]
    return weight


# --------------------------------------------------------------------------- model
def load_model(config: str, checkpoint: str, device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """Build the config's model and load ``checkpoint`` strictly
    (:func:`crbench.engine.checkpoint.load_weights`: generator-only files, as the
    converters write them, are accepted; the checkpoint's input conventions applied).

    ``cfg_options`` overrides config keys as ``--cfg-options`` does for tools/test.py.

    Returns ``(model, cfg)``; the model is in eval mode on ``device``. A file that does not
    fit raises :class:`SceneInferenceError` naming the keys (and the converter to run).
    """
    from crbench.apis import ConfigError, load_config
    from crbench.engine.checkpoint import WeightsMismatchError, load_weights
    from crbench.registry import MODELS
    from crbench.setup_env import register_all_modules
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist; train one with '
                                f'`python tools/train.py {config}`')
    try:
        cfg = load_config(config, cfg_options)
    except ConfigError as err:
        raise SceneInferenceError(str(err)) from None
    register_all_modules()
    model = MODELS.build(cfg.model)
    try:
        load_weights(model, checkpoint)
    except WeightsMismatchError as err:
        raise SceneInferenceError(f'{err} (config: {config})') from None
    model.to(device).eval()
    return model, cfg


def _pad_to_multiple(x: torch.Tensor, divisor: int) -> Tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % divisor, (-w) % divisor
    if ph == 0 and pw == 0:
        return x, h, w
    mode = 'reflect' if ph < h and pw < w else 'replicate'
    return F.pad(x, (0, pw, 0, ph), mode=mode), h, w


def _restore(model, batch: np.ndarray, device, size_divisor: int, n_bands: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    x, h, w = _pad_to_multiple(x, size_divisor)
    try:
        with torch.no_grad():
            pred = model.restore({'cloudy': x})
    except RuntimeError as err:
        raise SceneInferenceError(
            f'the model failed on a tile of {n_bands} band(s), {h}×{w} pixels '
            f'({str(err).splitlines()[0]}); check that the bands match what the model was '
            'trained on (select them with --bands) and that --size-divisor suits the '
            'network') from err
    if not isinstance(pred, torch.Tensor) or pred.dim() != 4:
        raise SceneInferenceError(
            f'model.restore returned {type(pred).__name__} '
            f'{tuple(pred.shape) if isinstance(pred, torch.Tensor) else ""}; a B×C×H×W '
            'tensor is expected (a mono-temporal framework)')
    if pred.shape[-2:] != x.shape[-2:]:
        raise SceneInferenceError(
            f'the model returned {tuple(pred.shape[-2:])} pixels for a {tuple(x.shape[-2:])} '
            'tile; scene inference needs a model whose output has the size of its input')
    return pred[..., :h, :w].float().cpu().numpy()


# --------------------------------------------------------------------------- writing
@dataclass
class SceneResult:
    path: str
    height: int
    width: int
    count: int
    n_tiles: int


def default_cache_mb(src_path: str) -> int:
    """GDAL block cache for a scene: two rows of 256-pixel float64 output blocks, at
    least 64 MB, so the cache holds what a strip touches without growing with the scene."""
    import rasterio
    with rasterio.open(src_path) as src:
        row_bytes = 8 * src.count * 256 * src.width
    return max(64, math.ceil(2 * row_bytes / 2**20))


def restore_scene(model, src_path: str, dst_path: str, *, in_scaling: SymmetricScaling,
                  out_scaling: Optional[SymmetricScaling] = None, tile: int = 256,
                  overlap: int = 32, margin: Optional[int] = None,
                  bands: Optional[Sequence[int]] = None, out_dtype: Optional[str] = None,
                  batch_size: int = 1, size_divisor: int = 1, device: str = 'cpu',
                  progress: bool = True,
                  on_tile: Optional[Callable[[int, int], None]] = None) -> SceneResult:
    """Run ``model`` over the raster ``src_path`` tile by tile; write ``dst_path``.

    Args:
        model: a crbench framework (``restore({'cloudy': B×C×H×W}) -> B×C'×H×W``).
        src_path: GeoTIFF (or any raster GDAL reads, e.g. PNG).
        dst_path: output; ``.png`` writes a PNG (uint8/uint16 only), anything else a
            tiled, deflate-compressed GeoTIFF with the input's CRS, transform and nodata.
        in_scaling / out_scaling: input units → [-1, 1] and back (out defaults to in).
        tile, overlap, margin: tile size, overlap of neighbouring tiles and the
            discarded border of inner tile edges (default ``overlap // 4``); see
            the module docstring. ``2 * overlap <= tile`` and ``2 * margin < overlap``.
        bands: 1-based band numbers of the input to use (GDAL order); default all.
        out_dtype: output data type (default: the input's); integer outputs are
            rounded and clipped to the output scaling's range (and the type's).
        batch_size: tiles per forward pass.
        size_divisor: tiles are padded (reflect) to a multiple of this before the
            model (U-Nets need 8 or 16), and cropped back.
        progress: show a rich progress bar.
        on_tile: called as ``on_tile(done, total)`` after each batch (tests, GUIs).

    Steps: :func:`_check_options`; open the input (:class:`_SceneReader`) and plan the
    tiles (:class:`_TileGrid`); for each row of tiles, restore batches of tiles and add
    them to the strip buffer (:class:`_StripBlender`), whose finished rows are written to a
    temporary GeoTIFF (opened by :func:`_open_output` once the first prediction gives the
    band count); finally :func:`_publish` moves it into place (or converts it to PNG).
    """
    import rasterio
    out_scaling = out_scaling or in_scaling
    margin = _check_options(src_path, tile, overlap, margin, batch_size, size_divisor)
    check_mono_temporal(None, model)
    device = torch.device(device)
    env = dict(GDAL_READ_OPTIONS)
    if 'GDAL_CACHEMAX' not in os.environ:  # keep memory bounded (module docstring, item 3)
        env['GDAL_CACHEMAX'] = default_cache_mb(src_path)
    with rasterio.Env(**env), warnings.catch_warnings():
        warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(src_path) as src:
            reader = _SceneReader(src, src_path, bands, in_scaling)
            dtype = _output_dtype(reader, out_dtype, dst_path)
            grid = _TileGrid.plan(reader.height, reader.width, tile, overlap, margin)
            folder = osp.dirname(osp.abspath(dst_path))
            os.makedirs(folder, exist_ok=True)
            fd, tmp_path = tempfile.mkstemp(prefix='.' + osp.basename(dst_path) + '.',
                                            suffix='.tif', dir=folder)
            os.close(fd)
            out_nodata = _output_nodata(reader.nodata, dtype)
            bar = _progress(progress, grid.n_tiles, osp.basename(src_path))
            dst = None
            try:
                blender, done = None, 0
                for row, y in enumerate(grid.ys):
                    wy = grid.weights_y(y)
                    for chunk in grid.batches(batch_size):
                        batch = np.stack([reader.read_scaled(grid.window(x, y))
                                          for x in (grid.xs[j] for j in chunk)])
                        pred = _restore(model, batch, device, size_divisor, len(reader.indexes))
                        if blender is None:  # the first prediction gives the band count
                            blender = _StripBlender(pred.shape[1], grid)
                            dst = _open_output(tmp_path, reader, pred.shape[1], dtype,
                                               out_nodata)
                        for k, j in enumerate(chunk):
                            blender.add(pred[k], y, grid.xs[j], wy, grid.wx[j])
                        done += len(chunk)
                        if bar is not None:
                            bar.update(bar.task_ids[0], completed=done)
                        if on_tile is not None:
                            on_tile(done, grid.n_tiles)
                    # rows above the next tile row are final: write them
                    end = grid.ys[row + 1] if row + 1 < len(grid.ys) else grid.height
                    blender.flush(end, lambda acc, weight, top: _write_rows(
                        dst, reader.read_mask, acc, weight, top, grid.width, out_scaling,
                        dtype, out_nodata))
                dst.close()
                dst = None
                _publish(tmp_path, dst_path, folder)
            finally:
                if bar is not None:
                    bar.stop()
                if dst is not None:
                    dst.close()
                if osp.exists(tmp_path):
                    os.unlink(tmp_path)
    return SceneResult(dst_path, grid.height, grid.width, blender.count, grid.n_tiles)


# --------------------------------------------------------------------------- steps
def _check_options(src_path: str, tile: int, overlap: int, margin: Optional[int],
                   batch_size: int, size_divisor: int) -> int:
    """Validate the tiling options and the input's existence; returns the margin."""
    margin = overlap // 4 if margin is None else int(margin)
    if tile < 1 or overlap < 0 or 2 * overlap > tile:
        raise SceneInferenceError(f'need tile >= 1 and 0 <= overlap <= tile / 2, got tile={tile}, '
                                  f'overlap={overlap}')
    if overlap and not 0 <= 2 * margin < overlap:
        raise SceneInferenceError(f'need 0 <= margin < overlap / 2, got margin={margin}, '
                                  f'overlap={overlap}')
    if batch_size < 1 or size_divisor < 1:
        raise SceneInferenceError('batch_size and size_divisor must be >= 1')
    if not osp.isfile(src_path):
        raise FileNotFoundError(f'input raster {src_path!r} does not exist')
    return margin


class _SceneReader:
    """The input raster's selected bands, read window by window, scaled, nodata filled."""

    def __init__(self, src, src_path: str, bands: Optional[Sequence[int]],
                 in_scaling: SymmetricScaling):
        self.src, self.in_scaling = src, in_scaling
        self.indexes = list(bands) if bands else list(range(1, src.count + 1))
        bad = [b for b in self.indexes if not 1 <= b <= src.count]
        if bad:
            raise SceneInferenceError(f'{src_path!r} has bands 1…{src.count}; band number(s) '
                                      f'{bad} do not exist (band numbers start at 1)')
        self.height, self.width, self.nodata = src.height, src.width, src.nodata

    def nodata_mask(self, raw: np.ndarray) -> Optional[np.ndarray]:
        """True where a pixel is nodata: every band equal to the nodata value (GDAL's
        dataset mask), or any band NaN."""
        mask = None
        if self.nodata is not None and not math.isnan(self.nodata):
            mask = np.all(raw == self.nodata, axis=0)
        if np.issubdtype(raw.dtype, np.floating):
            nan = np.isnan(raw).any(axis=0)
            mask = nan if mask is None else (mask | nan)
        return mask

    def read_scaled(self, window) -> np.ndarray:
        """The scaled float32 C×h×w input of ``window``; nodata pixels filled."""
        raw = self.src.read(self.indexes, window=window)
        mask = self.nodata_mask(raw)
        if mask is not None and mask.any():
            raw = raw.astype(np.float32)
            raw[:, mask] = self.in_scaling.fill
        return self.in_scaling.forward(raw)

    def read_mask(self, window) -> Optional[np.ndarray]:
        return self.nodata_mask(self.src.read(self.indexes, window=window))


def _output_dtype(reader: _SceneReader, out_dtype: Optional[str], dst_path: str) -> np.dtype:
    dtype = np.dtype(out_dtype or reader.src.dtypes[reader.indexes[0] - 1])
    if dst_path.lower().endswith('.png') and dtype not in (np.dtype('uint8'), np.dtype('uint16')):
        raise SceneInferenceError(f'PNG stores uint8 or uint16, not {dtype}; write a '
                                  '.tif or pass --out-dtype uint8/uint16')
    return dtype


def _output_nodata(nodata, dtype: np.dtype):
    """The input's nodata value, unless the output's integer type cannot hold it."""
    if nodata is not None and np.issubdtype(dtype, np.integer) and (
            math.isnan(nodata) or not np.iinfo(dtype).min <= nodata <= np.iinfo(dtype).max):
        return None
    return nodata


@dataclass
class _TileGrid:
    """Where the tiles are and how each is weighted (module docstring, "Blending")."""
    height: int
    width: int
    th: int
    tw: int
    overlap: int
    margin: int
    ys: List[int]
    xs: List[int]
    wx: List[np.ndarray]

    @classmethod
    def plan(cls, height: int, width: int, tile: int, overlap: int, margin: int) -> '_TileGrid':
        th, tw = min(tile, height), min(tile, width)
        ys = tile_starts(height, th, th - overlap if th == tile else th)
        xs = tile_starts(width, tw, tw - overlap if tw == tile else tw)
        wx = [blend_window_1d(tw, overlap, margin, x > 0, x + tw < width) for x in xs]
        return cls(height, width, th, tw, overlap, margin, ys, xs, wx)

    @property
    def n_tiles(self) -> int:
        return len(self.ys) * len(self.xs)

    def weights_y(self, y: int) -> np.ndarray:
        return blend_window_1d(self.th, self.overlap, self.margin, y > 0, y + self.th < self.height)

    def batches(self, batch_size: int):
        """Column indexes of one row of tiles, ``batch_size`` at a time."""
        for first in range(0, len(self.xs), batch_size):
            yield list(range(first, min(first + batch_size, len(self.xs))))

    def window(self, x: int, y: int):
        from rasterio.windows import Window
        return Window(x, y, self.tw, self.th)


class _StripBlender:
    """Weighted sum of the tiles over one strip of ``th`` rows (module docstring,
    "Memory", item 1); finished rows are handed out and the buffer shifted up."""

    def __init__(self, count: int, grid: _TileGrid):
        self.count, self.grid = count, grid
        self.acc = np.zeros((count, grid.th, grid.width), dtype=np.float32)
        self.weight = np.zeros((grid.th, grid.width), dtype=np.float32)
        self.top = 0  # scene row of the buffer's first row

    def add(self, pred: np.ndarray, y: int, x: int, wy: np.ndarray, wx: np.ndarray) -> None:
        w2d = (wy[:, None] * wx[None, :]).astype(np.float32)
        off, th, tw = y - self.top, self.grid.th, self.grid.tw
        self.acc[:, off:off + th, x:x + tw] += pred * w2d
        self.weight[off:off + th, x:x + tw] += w2d

    def flush(self, end: int, write: Callable[[np.ndarray, np.ndarray, int], None]) -> None:
        """Write rows ``top … end - 1`` with ``write(acc, weight, top)``; shift the buffer."""
        n_final, th = end - self.top, self.grid.th
        write(self.acc[:, :n_final], self.weight[:n_final], self.top)
        self.acc = np.roll(self.acc, -n_final, axis=1)
        self.weight = np.roll(self.weight, -n_final, axis=0)
        self.acc[:, th - n_final:] = 0
        self.weight[th - n_final:] = 0
        self.top = end


def _open_output(tmp_path: str, reader: _SceneReader, count: int, dtype: np.dtype, nodata):
    """The temporary output GeoTIFF; band descriptions copied when the bands correspond."""
    import rasterio
    dst = rasterio.open(tmp_path, 'w', **_profile(reader.src, count, dtype, nodata,
                                                  reader.indexes))
    if count == len(reader.indexes):
        for i, b in enumerate(reader.indexes, start=1):
            if reader.src.descriptions[b - 1]:
                dst.set_band_description(i, reader.src.descriptions[b - 1])
    return dst


def _publish(tmp_path: str, dst_path: str, folder: str) -> None:
    """Move the finished GeoTIFF to ``dst_path`` (converted to PNG for a ``.png`` name);
    atomic: ``dst_path`` never holds a partial file."""
    if not dst_path.lower().endswith('.png'):
        os.replace(tmp_path, dst_path)
        return
    from rasterio.shutil import copy as raster_copy
    fd, png_tmp = tempfile.mkstemp(prefix='.' + osp.basename(dst_path) + '.', suffix='.png',
                                   dir=folder)
    os.close(fd)
    try:
        raster_copy(tmp_path, png_tmp, driver='PNG')
        os.replace(png_tmp, dst_path)
    finally:
        for extra in (png_tmp, png_tmp + '.aux.xml'):
            if osp.exists(extra):
                os.unlink(extra)


def _progress(enabled: bool, total: int, name: str):
    if not enabled:
        return None
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    bar = Progress(TextColumn('[bold]{task.description}'), BarColumn(), MofNCompleteColumn(),
                   TextColumn('tiles'), TimeElapsedColumn(), TimeRemainingColumn())
    bar.add_task(f'restoring {name}', total=total)
    bar.start()
    return bar


def _profile(src, count: int, dtype: np.dtype, nodata, indexes) -> dict:
    profile = dict(driver='GTiff', width=src.width, height=src.height, count=count,
                   dtype=dtype.name, crs=src.crs, transform=src.transform, nodata=nodata,
                   compress='deflate', BIGTIFF='IF_SAFER')
    if src.width >= 256 and src.height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if np.issubdtype(dtype, np.floating):
        profile['predictor'] = 3
    elif dtype.itemsize > 1:
        profile['predictor'] = 2
    return profile


def _write_rows(dst, read_mask, acc, weight, top: int, width: int,
                out_scaling: SymmetricScaling, dtype: np.dtype, nodata) -> None:
    from rasterio.windows import Window
    rows = acc.shape[1]
    if rows == 0:
        return
    if not (weight > 0).all():  # cannot happen with valid tile/overlap/margin
        raise RuntimeError(f'internal error: rows {top}…{top + rows} have pixels no tile covers')
    from crbench.engine.prediction_writer import to_dataset_units
    window = Window(0, top, width, rows)
    # as tools/test.py --save-preds: integer outputs rounded and clipped to [lo, hi]
    out = to_dataset_units(acc / weight[None], out_scaling, dtype)
    mask = read_mask(window)
    if mask is not None and mask.any():
        if nodata is None:
            if np.issubdtype(dtype, np.floating):
                out[:, mask] = np.nan
        else:
            out[:, mask] = nodata
    dst.write(out, window=window)
