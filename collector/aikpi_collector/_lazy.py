"""Package re-exports that load on first use (PEP 562 module ``__getattr__``).

The top-level package and :mod:`aikpi_collector.receivers` name their public API in
``__all__`` but import a module only when one of its names is used, so nobody pays for
dependencies they do not use: ``aikpi-collector --help`` (or ``report``, ``plan``) loads no
engine, and an application using only the in-process span processor loads neither gRPC
nor Starlette.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ("lazy_exports",)


def lazy_exports(
    package: str, modules: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, where ``modules`` maps a module (relative
    to ``package``, e.g. ``".engine"``) to the names it exports."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later uses are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
