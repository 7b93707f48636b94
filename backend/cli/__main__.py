"""``python -m backend.cli`` is the same as the ``chatwire`` command."""

import sys

from backend.cli.main import main

sys.exit(main())
