"""Restore images from Python: ``init_model`` and ``restore``.

    from crbench.apis import init_model, restore
    model = init_model('configs/memorynet/memorynet_cuhkcr2.py', 'iter_40000.pth')
    pred = restore(model, 'data/C-CUHK/CUHK-CR2/test/cloud/4.png')   # H×W×C uint8
    preds = restore(model, 'data/C-CUHK/CUHK-CR2')                   # {sample_id: array}

Units. Inputs are given, and results returned, in the dataset's own units (uint8
0-255 for CUHK-CR and RICE, reflectance ×10,000 for SEN12MS-CR and Sen2_MTC_New),
exactly as ``tools/test.py --save-preds`` writes them: the config's test pipeline
does the reading, resizing and scaling to [-1, 1], and the prediction is mapped
back with the inverse of the target's scaling, rounded and clipped to the
dataset's integer type (crbench/engine/prediction_writer.py). A sample goes
through ``model.test_step``, the path every test run takes.

Inputs ``restore`` accepts:

* a numpy array, H×W×C (T×H×W×C for multi-temporal configs), the bands in the
  order the model reads them (CUHK-CR: R, G, B, NIR); the test pipeline's
  steps after file loading are applied (e.g. CUHK-CR's 0.5× MATLAB resize);
* a torch tensor, C×H×W or B×C×H×W (channels first, as torch stores images),
  returned as a tensor of the same layout;
* a dict of arrays for models with more than one input (``{'cloudy': ..., 'sar': ...}``);
* a file path: when the file is the cloudy image of a sample of the config's
  dataset (a copy laid out as docs/datasets.md describes), the sample is read
  as the dataset reads it (CUHK-CR's NIR from its own tree, SEN12MS-CR's SAR);
  any other PNG/TIFF is read as one H×W×C image holding all input bands;
* a folder: a dataset root (every sample of its test split) or a folder of
  image files; the result is a dict ``{sample_id or file stem: array}``.
"""
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch

from crbench.datasets.transforms.processing import SymmetricScaling

# Steps of a test pipeline that read files or draw random numbers: not applied to
# arrays given directly (the first reads nothing, the second would change the image).
_RANDOM_STEPS = ('PairedRandomFlip', 'RandomFlipRotate90')
_IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff')


class RestoreError(ValueError):
    """The input cannot be restored with this model (wrong bands, unknown file type…)."""


# --------------------------------------------------------------------------- loading
def init_model(config, checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a config's model, load ``checkpoint`` strictly, and put it in eval mode.

    Args:
        config: a config file path or an ``mmengine.Config``.
        checkpoint: a ``.pth`` written by tools/train.py or a converter; ``None``
            keeps the initial weights (tests).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'`` …
        cfg_options: overrides, as ``--cfg-options`` of the tools (checked keys).

    The config travels with the model as ``model.cfg``: :func:`restore` reads its
    test pipeline.
    """
    from mmengine.config import Config

    from crbench.apis import load_config
    from crbench.registry import MODELS
    from crbench.setup_env import register_all_modules
    if isinstance(config, Config):
        cfg = config.copy()
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        cfg = load_config(str(config), cfg_options)
    register_all_modules()
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        # one strict loader for test, inference, DE's prior and this API: missing or
        # unexpected keys name the file and the converter to run
        from crbench.engine.checkpoint import load_weights
        model.load_meta = load_weights(model, checkpoint, cfg=cfg)
    model.cfg = cfg
    return model.to(device).eval()


# --------------------------------------------------------------------------- helpers
def _config_of(model):
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise RestoreError('this model carries no config; build it with '
                           'crbench.apis.init_model(config, checkpoint)')
    return cfg


def _test_dataset_cfg(cfg) -> dict:
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            return loader.dataset
    raise RestoreError('the config has no test_dataloader.dataset; restore() reads its '
                       'test pipeline to know the input units')


def _output_scaling(pipeline) -> SymmetricScaling:
    from crbench.engine.prediction_writer import output_scaling
    try:
        return output_scaling(pipeline)
    except ValueError as err:
        raise RestoreError(str(err)) from None


def _run(model, packed: list, scaling: SymmetricScaling, as_float: bool) -> list:
    """Packed samples through ``model.test_step``; predictions in dataset units, H×W×C."""
    from mmengine.dataset import pseudo_collate

    from crbench.engine.prediction_writer import to_dataset_units
    with torch.no_grad():
        samples = model.test_step(pseudo_collate(packed))
    out = []
    for sample in samples:
        pred = sample.pred.detach().float().cpu().numpy()
        values = scaling.inverse(pred) if as_float else to_dataset_units(pred, scaling)
        out.append(np.moveaxis(values, -3, -1))
    return out


def _array_pipeline(pipeline):
    """The test pipeline without file loading and random augmentation, as transforms
    that act only on the keys a given sample has."""
    from crbench.registry import TRANSFORMS
    steps = []
    for step in pipeline:
        kind = step.get('type', '')
        if kind.startswith('Load') or kind in _RANDOM_STEPS:
            continue
        steps.append(dict(step))

    def apply(results: dict) -> dict:
        for step in steps:
            step = dict(step)
            if step['type'] != 'PackCRInputs':
                keys = [k for k in step.get('keys', ('cloudy', 'gt')) if k in results]
                if not keys:
                    continue
                step['keys'] = keys
            results = TRANSFORMS.build(step)(results)
        return results
    return apply


def _input_keys(pipeline) -> tuple:
    for step in pipeline:
        if step.get('type') == 'PackCRInputs':
            return tuple(step.get('input_keys', ('cloudy', )))
    return ('cloudy', )


def _restore_arrays(model, arrays: Dict[str, np.ndarray], pipeline, scaling, as_float):
    keys = _input_keys(pipeline)
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise RestoreError(f'this model reads the inputs {list(keys)}; {missing} not given '
                           '(pass a dict of arrays, e.g. {"cloudy": ..., "sar": ...})')
    results = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    if results['cloudy'].ndim < 3:
        raise RestoreError(f'the cloudy input has shape {results["cloudy"].shape}; arrays are '
                           'H×W×C (bands last, as image files decode)')
    packed = _array_pipeline(pipeline)(results)
    try:
        return _run(model, [packed], scaling, as_float)[0]
    except (RuntimeError, ValueError) as err:  # the network refuses the bands or the size
        raise RestoreError(
            f'the model cannot take a cloudy input of shape {results["cloudy"].shape} '
            f'(H×W×C, bands in the order the dataset stores them): '
            f'{str(err).splitlines()[0]}') from None


def _read_image(path: str) -> np.ndarray:
    """One PNG/JPEG/TIFF as H×W×C in its stored units."""
    if path.lower().endswith(('.tif', '.tiff')):
        # the datasets' reader: read-only GDAL options, errors that name the file
        from crbench.datasets.transforms.geotiff import read_geotiff
        return read_geotiff(path)[0]
    from crbench.datasets.transforms.loading import read_png
    return read_png(path)


def _dataset_at(cfg, root: str, split: str, pipeline):
    """The config's dataset class built on ``root`` (None if the layout does not fit)."""
    from crbench.registry import DATASETS
    dataset_cfg = dict(_test_dataset_cfg(cfg))
    dataset_cfg.update(data_root=root, split=split, pipeline=pipeline)
    dataset_cfg.pop('max_samples', None)
    try:
        return DATASETS.build(dataset_cfg)
    except (OSError, ValueError):  # not this dataset's root (DatasetLayoutError), or a
        return None                  # split it does not have: try the next


def _index_of(dataset) -> Dict[str, int]:
    """Real path of each sample's cloudy file(s) -> sample index."""
    index = {}
    for i in range(len(dataset)):
        paths = dataset.get_data_info(i).get('cloudy_path')
        for p in paths if isinstance(paths, (list, tuple)) else [paths]:
            if isinstance(p, str):
                index[osp.realpath(p)] = i
    return index


def _find_dataset(cfg, path: str, pipeline):
    """(dataset, {real path: index}) of the dataset copy holding ``path`` as a
    cloudy image, or None."""
    target = osp.realpath(path)
    folder = osp.dirname(target)
    splits = (_test_dataset_cfg(cfg).get('split', 'test'), 'test', 'val', 'train')
    for _ in range(4):  # CUHK/RICE/SEN12MS-CR: 3 levels below the root; Sen2_MTC: 4
        folder = osp.dirname(folder)
        for split in dict.fromkeys(splits):
            dataset = _dataset_at(cfg, folder, split, pipeline)
            if dataset is not None:
                index = _index_of(dataset)
                if target in index:
                    return dataset, index
    return None


# --------------------------------------------------------------------------- restore
def restore(model, inputs, split: Optional[str] = None, as_float: bool = False):
    """Remove clouds from ``inputs`` with a model built by :func:`init_model`.

    Args:
        model: from :func:`init_model` (it carries its config).
        inputs: an array, a tensor, a dict of arrays, an image path or a folder
            (module docstring).
        split: which split a dataset-root folder is read from (default: the
            config's test split).
        as_float: return float64 values in the dataset's units instead of
            rounding and clipping to its integer type.

    Returns:
        An array (H×W×C) or tensor (as given) for one image; a dict
        ``{sample_id: array}`` for a folder.
    """
    cfg = _config_of(model)
    dataset_cfg = _test_dataset_cfg(cfg)
    pipeline = list(dataset_cfg.get('pipeline', []))
    scaling = _output_scaling(pipeline)

    if isinstance(inputs, torch.Tensor):
        batch = inputs[None] if inputs.dim() == 3 else inputs
        if batch.dim() != 4:
            raise RestoreError(f'a tensor input must be C×H×W or B×C×H×W, got shape '
                               f'{tuple(inputs.shape)}')
        preds = [restore(model, x.movedim(0, -1).cpu().numpy(), as_float=as_float)
                 for x in batch]
        out = torch.stack([torch.from_numpy(np.ascontiguousarray(p)).movedim(-1, 0)
                           for p in preds])
        return out[0] if inputs.dim() == 3 else out
    if isinstance(inputs, np.ndarray):
        return _restore_arrays(model, {'cloudy': inputs}, pipeline, scaling, as_float)
    if isinstance(inputs, dict):
        return _restore_arrays(model, dict(inputs), pipeline, scaling, as_float)
    if not isinstance(inputs, (str, os.PathLike)):
        raise RestoreError(f'restore() takes an array, a tensor, a dict of arrays, a file or '
                           f'a folder, not {type(inputs).__name__}')
    path = osp.expanduser(os.fspath(inputs))
    if osp.isdir(path):
        return _restore_folder(model, cfg, path, split, pipeline, scaling, as_float)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path!r} does not exist; pass an image file, a folder of '
                                'images or a dataset root')
    return _restore_file(model, cfg, path, pipeline, scaling, as_float)


def _restore_file(model, cfg, path, pipeline, scaling, as_float, found=None):
    found = found or _find_dataset(cfg, path, pipeline)
    if found is not None and osp.realpath(path) in found[1]:
        dataset, index = found
        return _run(model, [dataset[index[osp.realpath(path)]]], scaling, as_float)[0]
    if not path.lower().endswith(_IMAGE_SUFFIXES):
        raise RestoreError(f'{path!r} is not an image file ({", ".join(_IMAGE_SUFFIXES)})')
    image = _read_image(path)
    try:
        return _restore_arrays(model, {'cloudy': image}, pipeline, scaling, as_float)
    except RestoreError as err:
        raise RestoreError(
            f'{path!r} is not part of a {dataset_name(cfg)} copy and, read on its own, does '
            f'not fit the model: {err}. Pass the dataset root (bands kept in other files, '
            'e.g. CUHK-CR\'s NIR tree, are then found) or an array with all bands') from None


def dataset_name(cfg) -> str:
    dataset_cfg = _test_dataset_cfg(cfg)
    return str(dataset_cfg.get('dataset_name') or dataset_cfg.get('type'))


def _restore_folder(model, cfg, path, split, pipeline, scaling, as_float):
    split = split or _test_dataset_cfg(cfg).get('split', 'test')
    dataset = _dataset_at(cfg, path, split, pipeline)
    if dataset is not None:
        return {str(dataset.get_data_info(i)['sample_id']): _run(
            model, [dataset[i]], scaling, as_float)[0] for i in range(len(dataset))}
    from crbench.datasets.base import natural_key
    names = sorted((n for n in os.listdir(path) if n.lower().endswith(_IMAGE_SUFFIXES)),
                   key=natural_key)
    if not names:
        raise RestoreError(f'{path!r} is neither a {dataset_name(cfg)} root (split {split!r}) '
                           f'nor a folder of image files ({", ".join(_IMAGE_SUFFIXES)})')
    # Files of a dataset copy (e.g. CUHK-CR2/test/cloud): find the copy once.
    found = _find_dataset(cfg, osp.join(path, names[0]), pipeline)
    return {osp.splitext(n)[0]: _restore_file(model, cfg, osp.join(path, n), pipeline,
                                                scaling, as_float, found) for n in names}
