"""``python -m crbench <command> ...`` is the ``crbench`` command."""
import sys

from crbench.cli import main

sys.exit(main())
