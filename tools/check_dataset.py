#!/usr/bin/env python
"""Check your copy of a dataset against what a config reads, without modifying it.

Thin wrapper: the command is crbench/commands/check_data.py (also `crbench check-data`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.check_data import *  # noqa: E402,F401,F403
from crbench.commands.check_data import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
