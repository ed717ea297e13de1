"""`python -m designer.cli`: the same as the `mixdesign` command."""

import sys

from designer.cli.main import main

sys.exit(main())
