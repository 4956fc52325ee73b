"""The marker file that flags a dataset root as synthetic."""
import json
import os
import os.path as osp

from crbench.datasets.base import SYNTHETIC_MARKER
from crbench.version import __version__


def write_synthetic_marker(root: str, dataset: str, seed: int, **params) -> str:
    """Write ``CRBENCH_SYNTHETIC.json`` into ``root`` and return its path.

    Datasets read it (``read_synthetic_marker``) and flag every sample, so a
    result computed on this data is recorded as synthetic and kept out of the
    leaderboard's real tables.
    """
    os.makedirs(root, exist_ok=True)
    path = osp.join(root, SYNTHETIC_MARKER)
    record = dict(synthetic=True, dataset=dataset, seed=seed, generator='crbench',
                  crbench_version=__version__, **params)
    with open(path, 'w') as f:
        json.dump(record, f, indent=2, sort_keys=True)
    return path
