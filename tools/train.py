#!/usr/bin/env python
"""Train any crbench config.

Thin wrapper: the command is crbench/commands/train.py (also `crbench train`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.train import *  # noqa: E402,F401,F403
from crbench.commands.train import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
