"""``python -m optarena`` (so that ``torchrun -m optarena train ...`` works)."""

import sys

from optarena.cli import main

sys.exit(main())
