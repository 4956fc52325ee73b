#!/usr/bin/env python
"""Compare two test runs image by image: ``python tools/compare_runs.py RUN_A.json RUN_B.json``.

Per metric: the paired mean difference (B - A) with a 95 % paired-bootstrap interval,
the Wilcoxon signed-rank p-value and B's win rate, on the images both runs scored
(crbench/evaluation/compare.py). Runs of different datasets, splits or protocols are
refused (exit 2).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.evaluation.compare import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
