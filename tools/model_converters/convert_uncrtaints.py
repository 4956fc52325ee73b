#!/usr/bin/env python
"""Command line of :mod:`crbench.converters.uncrtaints` (its docstring describes the conversion)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from crbench.converters.uncrtaints import *  # noqa: E402,F401,F403
from crbench.converters.uncrtaints import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
