"""`python -m infra.cli` (the package installs its SIGTERM handler before its imports)."""

import sys

from infra.cli import main

sys.exit(main())
