"""``python -m mlimpact``: the command line."""

import sys

from mlimpact.cli import main

sys.exit(main())
