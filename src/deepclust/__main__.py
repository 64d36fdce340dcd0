"""``python -m deepclust``: the ``deepclust`` command."""

import sys

from .cli import main

sys.exit(main())
