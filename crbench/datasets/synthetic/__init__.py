from .cuhk import write_cuhk
from .marker import write_synthetic_marker
from .rice import write_rice
from .scenes import cloud_layer, fractal_noise, land_cover_scene
from .sen12mscr import write_sen12mscr
from .sen2mtc import write_sen2mtc

__all__ = ['write_cuhk', 'write_synthetic_marker', 'cloud_layer', 'fractal_noise',
           'land_cover_scene', 'write_rice', 'write_sen12mscr', 'write_sen2mtc',
           'DEFAULT_SIZE', 'REAL_SIZES', 'WRITERS', 'write_synthetic']


#: Image side written on disk by default: small enough to train on a CPU at a few
#: iterations per second (CUHK-CR and RICE are halved again by their pipelines). The
#: real sizes (512 for CUHK-CR and RICE, 256 for SEN12MS-CR and Sen2_MTC_New) are one
#: ``size=`` away.
DEFAULT_SIZE = 64
#: The real datasets' image side on disk (``size=None`` writes it).
REAL_SIZES = {'cuhk_cr1': 512, 'cuhk_cr2': 512, 'rice1': 512, 'rice2': 512,
              'sen12mscr': 256, 'sen2mtc_new': 256}


def _writers():
    """``name -> (out, counts, size, seed, tick) -> the folder to pass as data_root``.

    ``counts`` is {'train': n, 'test': m}. SEN12MS-CR and Sen2_MTC_New write their
    default scenes / tiles (every split non-empty) with ceil(n / 2) patches per
    scene or images per tile; RICE writes n + m pairs and uses the computed 8:2 split.
    """
    import math
    import os.path as osp

    def per_unit(counts):
        return max(1, math.ceil(counts.get('train', 2) / 2))

    return {
        'cuhk_cr1': lambda out, counts, size, seed, tick: osp.join(
            write_cuhk(out, 'CUHK-CR1', counts, size, seed, tick), 'CUHK-CR1'),
        'cuhk_cr2': lambda out, counts, size, seed, tick: osp.join(
            write_cuhk(out, 'CUHK-CR2', counts, size, seed, tick), 'CUHK-CR2'),
        'sen12mscr': lambda out, counts, size, seed, tick: write_sen12mscr(
            out, patches_per_scene=per_unit(counts), size=size, seed=seed, progress=tick),
        'sen2mtc_new': lambda out, counts, size, seed, tick: write_sen2mtc(
            out, images_per_tile=per_unit(counts), size=size, seed=seed, progress=tick),
        'rice1': lambda out, counts, size, seed, tick: write_rice(
            out, counts={1: sum(counts.values())}, size=size, seed=seed, progress=tick),
        'rice2': lambda out, counts, size, seed, tick: write_rice(
            out, counts={2: sum(counts.values())}, size=size, seed=seed, progress=tick),
    }


WRITERS = _writers()


# The folder each writer creates under ``out`` (and marks as synthetic when done).
_TOP_FOLDERS = {'cuhk_cr1': 'C-CUHK', 'cuhk_cr2': 'C-CUHK', 'rice1': 'RICE_DATASET',
                'rice2': 'RICE_DATASET', 'sen12mscr': 'SEN12MSCR', 'sen2mtc_new': 'Sen2_MTC_New'}


def _refuse_real_copy(out: str, dataset: str) -> None:
    """Never write synthetic files into a real dataset copy: a non-empty target folder
    without the synthetic marker is refused."""
    import os
    import os.path as osp

    from crbench.datasets.base import SYNTHETIC_MARKER
    top = osp.join(out, _TOP_FOLDERS[dataset])
    if osp.isdir(top) and os.listdir(top) and not osp.isfile(osp.join(top, SYNTHETIC_MARKER)):
        raise FileExistsError(
            f'{top!r} already holds files but no {SYNTHETIC_MARKER}: it looks like a real '
            'dataset copy, which synthetic files would overwrite. Choose another output '
            'folder (--out).')


def write_synthetic(dataset: str, out: str, counts=None, size: int = DEFAULT_SIZE,
                    seed: int = 0, progress=None) -> str:
    """Write a synthetic copy of ``dataset`` (a key of :data:`WRITERS`) under ``out`` and
    return the folder to pass as ``--data-root`` (e.g. ``<out>/C-CUHK/CUHK-CR2``).
    ``size=None`` writes the real dataset's image size (:data:`REAL_SIZES`)."""
    if dataset not in WRITERS:
        raise ValueError(f'unknown dataset {dataset!r}; one of {sorted(WRITERS)}')
    size = REAL_SIZES[dataset] if size is None else size
    _refuse_real_copy(out, dataset)
    if size < 8:
        raise ValueError(f'size must be at least 8 pixels, got {size}')
    counts = counts or {'train': 8, 'test': 4}
    return WRITERS[dataset](out, counts, size, seed, progress)
