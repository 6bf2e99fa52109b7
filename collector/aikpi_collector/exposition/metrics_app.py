"""The metrics port: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for orchestrators.

``/metrics`` is rendered by the engine's exposition (Prometheus text, or OpenMetrics with
exemplars when ``Accept`` asks for it) in a worker thread, so a large scrape never stalls
the event loop. ``/healthz`` answers while the process runs; ``/readyz`` only while the
receivers are bound and accepting, and the last render of ``/metrics`` succeeded: a
collector whose KPIs cannot be scraped is not ready, and
``aikpi_collector_exposition_errors_total`` counts each failed render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from aikpi_collector.exposition.render import render_metrics
from aikpi_collector.security import WWW_AUTHENTICATE

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from aikpi_collector.security import BearerAuth

__all__ = ("ExpositionHealth", "create_metrics_app")

logger = logging.getLogger(__name__)


class ExpositionHealth:
    """Whether the last ``/metrics`` render succeeded; failures are counted by format."""

    def __init__(self, on_failure: Callable[[str], None] = lambda _format: None) -> None:
        self.failing = False
        self._on_failure = on_failure

    def failed(self, fmt: str) -> None:
        self.failing = True
        self._on_failure(fmt)

    def succeeded(self) -> None:
        self.failing = False


def create_metrics_app(
    registry: CollectorRegistry,
    is_ready: Callable[[], bool],
    auth: BearerAuth | None = None,
    on_unauthenticated: Callable[[], None] = lambda: None,
    health: ExpositionHealth | None = None,
) -> Starlette:
    """The Starlette app of the metrics port; ``is_ready`` tells whether receivers accept.

    With ``auth``, ``/metrics`` answers 401 (``on_unauthenticated`` counts it) unless the
    request carries the bearer token; ``/healthz`` and ``/readyz`` stay open for probes.
    ``health`` records whether renders succeed (``/readyz`` reads it).
    """
    # imported here, not with the module: the engine imports this package for its store
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    exposition = health if health is not None else ExpositionHealth()

    async def metrics(request: Request) -> Response:
        if auth is not None:
            problem = auth.problem(request.headers.get("authorization"))
            if problem is not None:
                on_unauthenticated()
                return PlainTextResponse(
                    problem + "\n", 401, headers={"WWW-Authenticate": WWW_AUTHENTICATE}
                )
        accept = request.headers.get("accept")
        try:
            body, content_type = await run_in_threadpool(render_metrics, registry, accept)
        except Exception:
            logger.exception("/metrics failed to render")
            exposition.failed("openmetrics" if accept and "openmetrics" in accept else "text")
            return PlainTextResponse("/metrics failed to render; see the collector log\n", 500)
        exposition.succeeded()
        return Response(body, 200, headers={"Content-Type": content_type})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if not is_ready():
            return PlainTextResponse("not ready: receivers are not accepting\n", 503)
        if exposition.failing:
            return PlainTextResponse(
                "not ready: the last /metrics exposition failed (see the collector log)\n", 503
            )
        return PlainTextResponse("ready\n")

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
        ]
    )
