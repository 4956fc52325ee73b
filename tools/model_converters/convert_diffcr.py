#!/usr/bin/env python
"""Command line of :mod:`crbench.converters.diffcr` (its docstring describes the conversion)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from crbench.converters.diffcr import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
