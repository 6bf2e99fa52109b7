"""``python -m aikpi_collector`` is the ``aikpi-collector`` command."""

import sys

from aikpi_collector.cli import main

sys.exit(main())
