"""``python -m netnswrap``: the command line (see :mod:`netnswrap.cli`)."""
import sys

from .cli import main

sys.exit(main())
