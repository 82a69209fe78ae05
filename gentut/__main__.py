"""``python -m gentut``: the command line (see `gentut.cli`)."""
import sys

from gentut.cli import main

sys.exit(main())
