"""``python -m cellshapes.cli``: the console script."""
import sys

from cellshapes.cli import main

sys.exit(main())
