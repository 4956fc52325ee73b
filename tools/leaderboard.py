#!/usr/bin/env python
"""Regenerate the leaderboard from reported numbers and run files.

Thin wrapper: the command is crbench/commands/leaderboard.py (also `crbench leaderboard`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.leaderboard import *  # noqa: E402,F401,F403
from crbench.commands.leaderboard import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
