#!/usr/bin/env python
"""Write a small synthetic dataset in a real dataset's on-disk layout.

Thin wrapper: the command is crbench/commands/synthetic.py (also `crbench synthetic`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.synthetic import *  # noqa: E402,F401,F403
from crbench.commands.synthetic import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
