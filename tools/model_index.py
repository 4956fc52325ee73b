#!/usr/bin/env python
"""List and filter the model index; write or check the README's model-zoo table.

Thin wrapper: the command is crbench/commands/zoo.py (also `crbench zoo`)."""
import os
import sys

# this checkout's crbench, even when another one is installed in the environment
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crbench.commands.zoo import *  # noqa: E402,F401,F403
from crbench.commands.zoo import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
