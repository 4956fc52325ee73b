#!/usr/bin/env python
"""Test a checkpoint and record the result in a run JSON for the leaderboard.

Thin wrapper: the command is crbench/commands/test.py (also `crbench test`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.test import *  # noqa: E402,F401,F403
from crbench.commands.test import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
