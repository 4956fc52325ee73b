#!/usr/bin/env python
"""Measure parameters, MACs, latency, peak memory (and diffusion sampling time) of models.

Thin wrapper: the command is crbench/commands/benchmark.py (also `crbench benchmark`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.benchmark import *  # noqa: E402,F401,F403
from crbench.commands.benchmark import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
