from .cuhk import write_cuhk
from .marker import write_synthetic_marker
from .rice import write_rice
from .scenes import cloud_layer, fractal_noise, land_cover_scene
from .sen12mscr import write_sen12mscr
from .sen2mtc import write_sen2mtc

__all__ = ['write_cuhk', 'write_synthetic_marker', 'cloud_layer', 'fractal_noise',
           'land_cover_scene',
           'write_rice', 'write_sen12mscr', 'write_sen2mtc']


def _extra_writers():
    """Writers for ``tools/make_synthetic_data.py``: (out, counts, size, seed, tick) -> root.

    ``counts`` is {'train': n, 'test': m}. SEN12MS-CR and Sen2_MTC_New write their
    default scenes / tiles (every split non-empty) with ceil(n / 2) patches per
    scene or images per tile; RICE writes n + m pairs and uses the computed 8:2 split.
    """
    import math

    def per_unit(counts):
        return max(1, math.ceil(counts.get('train', 2) / 2))

    return {
        'sen12mscr': lambda out, counts, size, seed, tick: write_sen12mscr(
            out, patches_per_scene=per_unit(counts), size=size or 256, seed=seed,
            progress=tick),
        'sen2mtc_new': lambda out, counts, size, seed, tick: write_sen2mtc(
            out, images_per_tile=per_unit(counts), size=size or 256, seed=seed,
            progress=tick),
        'rice1': lambda out, counts, size, seed, tick: write_rice(
            out, counts={1: sum(counts.values())}, size=size or 512, seed=seed, progress=tick),
        'rice2': lambda out, counts, size, seed, tick: write_rice(
            out, counts={2: sum(counts.values())}, size=size or 512, seed=seed, progress=tick),
    }


EXTRA_WRITERS = _extra_writers()
