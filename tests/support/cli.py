"""Run ``python -m aikpi_collector ...`` as a real subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys


def run_collector_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The finished process (text output captured); never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "aikpi_collector", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
