"""``CollectorServer``: the OTLP/HTTP, OTLP/gRPC and metrics servers around one KPI engine.

Usable in-process (the demo starts and stops it) and by ``aikpi-collector serve``. Sockets
are bound in :meth:`CollectorServer.start` itself, so a busy port raises ``OSError`` there
(port 0 picks a free one; the bound ports are then in ``http_port`` and friends). Both
uvicorn servers share one event loop in a background thread; grpcio runs its own threads.
:meth:`~CollectorServer.stop` is graceful: readiness drops, listeners close, in-flight
requests finish within ``grace`` seconds, then the metrics port closes last.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from aikpi_collector.config import CollectorConfig

if TYPE_CHECKING:
    import grpc
    import uvicorn

    from aikpi_collector.engine import KpiEngine

__all__ = ("CollectorServer",)

logger = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 30.0


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6), or ``OSError`` naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


class CollectorServer:
    """OTLP receivers and ``/metrics`` around one :class:`~aikpi_collector.engine.KpiEngine`."""

    def __init__(self, config: CollectorConfig, registry: CollectorRegistry | None = None) -> None:
        from aikpi_collector.engine import KpiEngine
        from aikpi_collector.ingest import Ingest

        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.engine: KpiEngine = KpiEngine(config, self.registry)
        self._ingest = Ingest(self.engine, config.max_concurrent_requests)
        self.http_port = 0
        self.grpc_port = 0
        self.metrics_port = 0
        self._ready = False
        self._started = False
        self._thread: threading.Thread | None = None
        self._http_done = threading.Event()
        self._http_server: uvicorn.Server | None = None
        self._metrics_server: uvicorn.Server | None = None
        self._grpc_server: grpc.Server | None = None
        self._loop_error: BaseException | None = None

    @property
    def ready(self) -> bool:
        """True while the receivers are bound and accepting."""
        return self._ready

    def _uvicorn_server(self, app: Any, grace: float) -> uvicorn.Server:
        import uvicorn

        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=self.config.log_level.lower(),
            access_log=False,
            lifespan="off",
            # An outer bound on connections + tasks; the shared admission control answers
            # with Retry-After long before this is reached.
            limit_concurrency=max(64, 4 * self.config.max_concurrent_requests),
            timeout_graceful_shutdown=int(grace) or 1,
            server_header=False,
        )
        return uvicorn.Server(config)

    def start(self) -> None:
        """Bind every port, serve in background threads, return once all accept requests."""
        if self._started:
            raise RuntimeError("CollectorServer already started")
        from aikpi_collector.grpc_receiver import create_grpc_server
        from aikpi_collector.http_receiver import create_http_app
        from aikpi_collector.metrics_app import create_metrics_app

        config = self.config
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(config.log_level)
        http_sock = _bind(config.host, config.otlp_http_port)
        try:
            metrics_sock = _bind(config.host, config.metrics_port)
        except OSError:
            http_sock.close()
            raise
        self.http_port = http_sock.getsockname()[1]
        self.metrics_port = metrics_sock.getsockname()[1]

        grpc_server = create_grpc_server(
            self._ingest, config.max_request_bytes, config.retry_after_seconds
        )
        grpc_host = f"[{config.host}]" if ":" in config.host else config.host
        try:
            grpc_port = grpc_server.add_insecure_port(f"{grpc_host}:{config.otlp_grpc_port}")
        except RuntimeError as exc:
            grpc_port = 0
            logger.debug("grpc bind failed: %s", exc)
        if not grpc_port:
            http_sock.close()
            metrics_sock.close()
            raise OSError(f"cannot listen on {config.host}:{config.otlp_grpc_port} (gRPC)")
        self.grpc_port = grpc_port
        self._grpc_server = grpc_server

        http_app = create_http_app(
            self._ingest, config.max_request_bytes, config.retry_after_seconds
        )
        self._http_server = self._uvicorn_server(http_app, config.shutdown_grace_seconds)
        self._metrics_server = self._uvicorn_server(
            create_metrics_app(self.registry, lambda: self._ready), 1.0
        )
        self._thread = threading.Thread(
            target=self._run_loop,
            args=(http_sock, metrics_sock),
            name="aikpi-collector-http",
            daemon=True,
        )
        self._started = True
        self._thread.start()
        grpc_server.start()

        http_server, metrics_server = self._http_server, self._metrics_server
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not (http_server.started and metrics_server.started):
            failed = self._loop_error is not None or not self._thread.is_alive()
            if failed or time.monotonic() > deadline:
                self.stop(grace=0)
                raise RuntimeError(f"collector HTTP servers failed to start: {self._loop_error}")
            time.sleep(0.01)
        self._ready = True
        logger.info(
            "aikpi collector ready: OTLP/HTTP http://%s:%d, OTLP/gRPC %s:%d, metrics http://%s:%d",
            config.host,
            self.http_port,
            config.host,
            self.grpc_port,
            config.host,
            self.metrics_port,
        )

    def _run_loop(self, http_sock: socket.socket, metrics_sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(http_sock, metrics_sock))
        except BaseException as exc:  # reported to start()
            self._loop_error = exc
            logger.exception("collector HTTP servers stopped with an error")
        finally:
            self._http_done.set()
            loop.close()

    async def _serve(self, http_sock: socket.socket, metrics_sock: socket.socket) -> None:
        assert self._http_server is not None and self._metrics_server is not None
        http_server = self._http_server

        async def serve_http() -> None:
            try:
                await http_server.serve(sockets=[http_sock])
            finally:
                self._http_done.set()

        await asyncio.gather(serve_http(), self._metrics_server.serve(sockets=[metrics_sock]))

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``grace`` s), release ports."""
        if not self._started:
            return
        self._started = False
        self._ready = False
        grace = max(0.0, grace)
        grpc_done = self._grpc_server.stop(grace) if self._grpc_server is not None else None
        if self._http_server is not None:
            self._http_server.config.timeout_graceful_shutdown = max(1, round(grace))
            self._http_server.should_exit = True
            self._http_server.force_exit = grace == 0
        if grpc_done is not None:
            grpc_done.wait(grace + 1.0)
        # The HTTP receiver closes its listener at once, then waits for in-flight requests;
        # the metrics port stays up until then, so a last scrape still sees the final counts.
        self._http_done.wait(grace + 2.0)
        if self._metrics_server is not None:
            self._metrics_server.should_exit = True
        if self._thread is not None:
            self._thread.join(grace + 5.0)
        logger.info("aikpi collector stopped")

    def __enter__(self) -> CollectorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
