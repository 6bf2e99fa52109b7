"""Find the real binaries tests need (Prometheus, promtool, Alertmanager), or fail clearly.

A test that needs a binary which is not installed fails with the command that installs it;
it never passes silently.
"""

from __future__ import annotations

import shutil

import pytest

INSTALL_HINT = (
    "install it with: apt-get update && apt-get install -y prometheus prometheus-alertmanager "
    "(`make test` and .ci/run do this when run as root)"
)

_NAMES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
}


def require_binary(name: str) -> str:
    """Path of the binary ``name`` (one of prometheus, promtool, alertmanager, amtool)."""
    for candidate in _NAMES.get(name, (name,)):
        path = shutil.which(candidate)
        if path:
            return path
    pytest.fail(f"required binary {name!r} not found on PATH; {INSTALL_HINT}", pytrace=False)
