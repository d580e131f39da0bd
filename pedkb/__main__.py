"""`python -m pedkb` runs the command line."""

import sys

from pedkb.cli import main

sys.exit(main())
