"""Is a split complete and readable? What the tools do about it.

A test result is a statement about a published test split. A copy that lacks
files (a sample with a missing partner, ``dataset.skipped``) or holds damaged
ones (an ``ImageReadError`` while reading) would silently be scored on fewer
images, so ``tools/test.py`` refuses it (exit 2, naming the samples and files)
unless ``--allow-incomplete`` is given; then the damaged samples are found
before the run, excluded (``exclude_ids``), and the result records
``incomplete: true`` and the skipped ids.

Read errors raised inside a data loader worker reach the main process wrapped
in a traceback text; :func:`read_error_message` recovers the loader's own
message, which names the file.
"""
from typing import List, Optional

from .base import DatasetLayoutError
from .check import MAX_LISTED  # problems listed before "… and N more", as check_dataset
from .transforms.loading import ImageReadError


class IncompleteDatasetError(DatasetLayoutError):
    """The split lacks some of its files (a layout problem the tools report with exit 2)."""


def read_error_message(err: BaseException) -> Optional[str]:
    """The loader's message if ``err`` is (or wraps) an ``ImageReadError``, else None."""
    if isinstance(err, ImageReadError):
        text = str(err)
    elif isinstance(err, RuntimeError) and 'ImageReadError' in str(err):
        text = str(err)  # torch could not rebuild the exception type: same text
    else:
        return None
    marker = 'ImageReadError: '
    if 'Original Traceback' in text and marker in text:
        # 'Caught ImageReadError in DataLoader worker process 0. Original Traceback ...
        #  crbench.datasets.transforms.loading.ImageReadError: <message>'
        text = text.rsplit(marker, 1)[1]
    return text.strip()


def _listing(items: List[str]) -> str:
    shown = '\n  '.join(items[:MAX_LISTED])
    more = f'\n  … and {len(items) - MAX_LISTED} more' if len(items) > MAX_LISTED else ''
    return f'  {shown}{more}'


def require_complete(dataset, allow_incomplete: bool = False) -> None:
    """Refuse a split whose dataset skipped samples (missing partner files)."""
    skipped = list(getattr(dataset, 'skipped', []))
    if not skipped or allow_incomplete:
        return
    items = [f"{s['sample_id']}: {s['reason']}" for s in skipped]
    raise IncompleteDatasetError(
        f'split {dataset.split!r} of {dataset.DATASET_NAME} under {dataset.data_root!r} is '
        f'incomplete: {len(skipped)} sample(s) lack a file\n{_listing(items)}\nA result on '
        'it would not be comparable with the published numbers. Complete the copy '
        '(tools/check_dataset.py lists every problem), or pass --allow-incomplete to score '
        'the remaining samples; the result then records incomplete: true and the skipped ids.')


def find_unreadable(dataset) -> List[dict]:
    """Load every sample once (its pipeline, in this process) and return
    ``[dict(sample_id, reason), ...]`` for those whose files cannot be read."""
    bad = []
    for index in range(len(dataset)):
        try:
            dataset.prepare_data(index)
        except ImageReadError as err:
            info = dataset.get_data_info(index)
            bad.append(dict(sample_id=str(info.get('sample_id', index)), reason=str(err)))
    return bad


def unreadable_message(message: str, tool: str) -> str:
    """What ``tools/train.py`` / ``tools/test.py`` print for a read error."""
    hint = ('re-extract the file, run tools/check_dataset.py CONFIG --deep to list every '
            'damaged file')
    if tool == 'test':
        hint += (', or pass --allow-incomplete to leave the damaged samples out (the result '
                 'then records incomplete: true)')
    return f'a data file cannot be read: {message}\n{hint}.'


def prepare_test_split(cfg, dataset, allow_incomplete: bool = False):
    """What ``tools/test.py`` does with its built test ``dataset`` before the run.

    Refuses an incomplete split (:func:`require_complete`) unless
    ``allow_incomplete``; then also loads every sample once to find damaged files,
    excludes those samples (``test_dataloader.dataset.exclude_ids`` of ``cfg``) and
    returns the rebuilt dataset, whose ``skipped`` lists every left-out sample.
    """
    require_complete(dataset, allow_incomplete)
    if not allow_incomplete:
        return dataset
    damaged = find_unreadable(dataset)
    if not damaged:
        return dataset
    from crbench.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.exclude_ids = list(ds_cfg.get('exclude_ids', [])) + [d['sample_id'] for d in damaged]
    rebuilt = DATASETS.build(ds_cfg)
    reasons = {d['sample_id']: d['reason'] for d in damaged}
    for entry in rebuilt.skipped:
        entry['reason'] = reasons.get(entry['sample_id'], entry['reason'])
    return rebuilt


def run_reporting_read_errors(tool: str, fn, *args) -> int:
    """``fn(*args)``; 0 when it returns, 2 with :func:`unreadable_message` on stderr
    when a data file cannot be read (also inside a loader worker)."""
    import sys
    try:
        fn(*args)
    except RuntimeError as err:
        message = read_error_message(err)
        if message is None:
            raise
        print(f'crbench {tool}: {unreadable_message(message, tool)}', file=sys.stderr)
        return 2
    return 0
