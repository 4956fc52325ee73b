#!/usr/bin/env python
"""The crbench demo: synthetic CUHK-CR2 -> MemoryNet training and testing -> leaderboard.

Thin wrapper: the command is crbench/commands/demo.py (also `crbench demo`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.demo import *  # noqa: E402,F401,F403
from crbench.commands.demo import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
