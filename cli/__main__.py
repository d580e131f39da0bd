"""`python -m cli`: the same as the `pedkb` command."""

import sys

from cli.main import main

sys.exit(main())
