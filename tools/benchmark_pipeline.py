#!/usr/bin/env python
"""Per-stage time of a config's test loop: ``crbench.analysis.pipeline`` (see there).

    python tools/benchmark_pipeline.py CONFIG [CHECKPOINT] [--synthetic] [--num-batches 10]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from crbench.analysis.pipeline import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
