"""The metrics port: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for orchestrators.

``/metrics`` is rendered by the engine's exposition (Prometheus text, or OpenMetrics with
exemplars when ``Accept`` asks for it) in a worker thread, so a large scrape never stalls
the event loop. ``/healthz`` answers while the process runs; ``/readyz`` only while the
receivers are bound and accepting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from aikpi_collector.security import BearerAuth

__all__ = ("create_metrics_app",)


def create_metrics_app(
    registry: CollectorRegistry,
    is_ready: Callable[[], bool],
    auth: BearerAuth | None = None,
    on_unauthenticated: Callable[[], None] = lambda: None,
) -> Starlette:
    """The Starlette app of the metrics port; ``is_ready`` tells whether receivers accept.

    With ``auth``, ``/metrics`` answers 401 (``on_unauthenticated`` counts it) unless the
    request carries the bearer token; ``/healthz`` and ``/readyz`` stay open for probes.
    """
    from aikpi_collector.exposition import render_metrics
    from aikpi_collector.security import WWW_AUTHENTICATE

    async def metrics(request: Request) -> Response:
        if auth is not None:
            problem = auth.problem(request.headers.get("authorization"))
            if problem is not None:
                on_unauthenticated()
                return PlainTextResponse(
                    problem + "\n", 401, headers={"WWW-Authenticate": WWW_AUTHENTICATE}
                )
        body, content_type = await run_in_threadpool(
            render_metrics, registry, request.headers.get("accept")
        )
        return Response(body, 200, headers={"Content-Type": content_type})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if is_ready():
            return PlainTextResponse("ready\n")
        return PlainTextResponse("not ready: receivers are not accepting\n", 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
        ]
    )
