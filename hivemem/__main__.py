"""``python -m hivemem``."""

import sys

from hivemem.cli import main

sys.exit(main())
