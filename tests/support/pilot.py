"""A small seeded pilot replayed through the real SDK, OTLP/HTTP and an in-process collector.

Shared by the demo and report tests: their conftest files import the `pilot` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PILOT_UNITS = 400
PILOT_SEED = 11


@dataclass
class Pilot:
    """The planned runs (ground truth) and the collector that received them."""

    runs: list
    server: object

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.server.metrics_port}/metrics"


@pytest.fixture(scope="module")
def pilot() -> Iterator[Pilot]:
    import aikpi.testing
    from aikpi_collector.config import CollectorConfig, LaborCost
    from aikpi_collector.demo.cli import run_pilot
    from aikpi_collector.demo.model import LABOR_RATES
    from aikpi_collector.server import CollectorServer

    config = CollectorConfig(
        otlp_http_port=0,
        otlp_grpc_port=0,
        metrics_port=0,
        labor_cost=LaborCost(teams=LABOR_RATES),
        log_level="WARNING",
    )
    server = CollectorServer(config)
    server.start()
    try:
        runs = run_pilot(server, units=PILOT_UNITS, seed=PILOT_SEED, days=28.0, show_progress=False)
        yield Pilot(runs, server)
    finally:
        server.stop()
        aikpi.testing.reset()
