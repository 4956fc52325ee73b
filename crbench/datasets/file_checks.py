"""Read-only file inspections shared by the datasets' ``check_split`` methods.

Each dataset module checks its own layout (``<Dataset>.check_split``), reusing
its own scan; these helpers only open files for reading and record problems on
a :class:`crbench.datasets.check.SplitReport`.
"""
from typing import Callable, Iterable, Optional, Sequence

from .transforms.loading import ImageReadError, read_png

PNG_MODES = {'L': 1, 'LA': 2, 'RGB': 3, 'RGBA': 4}


def inspect_png(path: str, min_channels: int, deep: bool) -> Optional[str]:
    """None if the PNG is an 8-bit image with at least ``min_channels`` channels, else why not."""
    from PIL import Image, UnidentifiedImageError
    if deep:
        try:
            array = read_png(path)
        except ImageReadError as err:
            return str(err)
        if array.dtype.name != 'uint8':
            return f'{path!r} decodes as {array.dtype.name}, 8-bit (uint8) expected'
        if array.shape[2] < min_channels:
            return (f'{path!r} has {array.shape[2]} channel(s), at least {min_channels} '
                    'expected')
        return None
    try:
        with Image.open(path) as img:
            mode = img.mode
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f'cannot read {path!r} ({err}): corrupt or not a PNG; re-extract it'
    if mode not in PNG_MODES:
        return (f'{path!r} is a {mode!r} image; an 8-bit grayscale or RGB PNG is expected '
                '(palette or 16-bit files are not decoded as the loaders expect)')
    if PNG_MODES[mode] < min_channels:
        return f'{path!r} has {PNG_MODES[mode]} channel(s) ({mode}), {min_channels} expected'
    return None


def png_check(min_channels: int, deep: bool) -> Callable[[str], Optional[str]]:
    """``path -> problem or None`` for :func:`inspect_files`."""
    return lambda path: inspect_png(path, min_channels, deep)


def inspect_files(files: Iterable[tuple], report, progress: Optional[Callable[[], None]]) -> None:
    """Run ``check(path)`` for each ``(path, check)``; record what goes wrong on ``report``."""
    for path, check in files:
        report.files_checked += 1
        try:
            problem = check(path)
        except ImageReadError as err:
            problem = str(err)
        if problem:
            report.errors.append(problem)
        if progress is not None:
            progress()


def subsample(items: Sequence, max_items: Optional[int]) -> Sequence:
    """At most ``max_items`` of ``items``, evenly spaced (all of them for None)."""
    if max_items is None or len(items) <= max_items:
        return items
    step = len(items) / max_items
    return [items[int(i * step)] for i in range(max_items)]
