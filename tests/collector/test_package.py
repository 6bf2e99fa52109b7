"""The package's public names, and what importing them costs.

Every name a package lists in ``__all__`` resolves. The top-level package and
``receivers`` load their names on first use: the command line imports no engine, and an
application using only the in-process span processor imports neither gRPC, Starlette nor
uvicorn.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = (
    "aikpi_collector",
    "aikpi_collector.receivers",
    "aikpi_collector.engine",
    "aikpi_collector.exposition",
)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))


def test_the_top_level_api() -> None:
    import aikpi_collector

    api = "CollectorConfig CollectorServer KpiEngine KpiSpanProcessor SpanRecord load_config"
    for name in api.split():
        assert getattr(aikpi_collector, name).__name__ == name
    assert aikpi_collector.__version__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = aikpi_collector.nothing


def _imported_after(statement: str) -> set[str]:
    """Top-level packages among the heavy dependencies that ``statement`` imports."""
    code = (
        f"{statement}\nimport sys\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    heavy = {"grpc", "starlette", "uvicorn", "prometheus_client", "pydantic", "genai_prices"}
    return heavy & set(done.stdout.split())


def test_the_command_line_imports_no_engine() -> None:
    assert _imported_after("import aikpi_collector.cli") == set()


def test_the_in_process_processor_imports_no_network_receiver() -> None:
    imported = _imported_after("from aikpi_collector import KpiSpanProcessor")
    assert imported.isdisjoint({"grpc", "starlette", "uvicorn"}), imported
