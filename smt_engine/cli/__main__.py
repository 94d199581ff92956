"""`python -m smt_engine.cli`: the same entry point as the `smt` script."""

import sys

from smt_engine.cli.main import main

sys.exit(main())
