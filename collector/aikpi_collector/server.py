"""``CollectorServer``: the OTLP/HTTP, OTLP/gRPC and metrics servers around one KPI engine.

Usable in-process (the demo starts and stops it) and by ``aikpi-collector serve``. Sockets
are bound in :meth:`CollectorServer.start` itself, so a busy port raises ``OSError`` there
(port 0 picks a free one; the bound ports are then in ``http_port`` and friends). Both
uvicorn servers and the ``grpc.aio`` server share one event loop in a background thread;
decoding and counting run in worker threads. :meth:`~CollectorServer.stop` is graceful:
readiness drops, listeners close, in-flight requests finish within ``grace`` seconds, then
the metrics port closes last.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry

from aikpi_collector.config import CollectorConfig
from aikpi_collector.security import BearerAuth, ServerTls, read_token, server_ssl_context

if TYPE_CHECKING:
    import grpc
    import uvicorn

    from aikpi_collector.engine.engine import KpiEngine
    from aikpi_collector.receivers.ingest import Ingest

__all__ = ("CollectorServer",)

logger = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


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


def _security(
    config: CollectorConfig,
) -> tuple[ServerTls | None, BearerAuth | None, BearerAuth | None]:
    """The TLS settings and the two token checks of ``config`` (each ``None`` when off)."""
    tls = None
    if config.tls is not None:
        tls = ServerTls(config.tls.cert_file, config.tls.key_file, config.tls.client_ca_file)
    auth = config.auth
    otlp = BearerAuth(read_token(auth.bearer_token_file)) if auth.bearer_token_file else None
    metrics = None
    if auth.metrics_bearer_token_file:
        metrics = BearerAuth(read_token(auth.metrics_bearer_token_file))
    return tls, otlp, metrics


def _grpc_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    import grpc

    cert, key, client_ca = tls.pem_files()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class CollectorServer:
    """OTLP receivers and ``/metrics`` around one :class:`~aikpi_collector.engine.KpiEngine`."""

    def __init__(self, config: CollectorConfig, registry: CollectorRegistry | None = None) -> None:
        from aikpi_collector.connections import ConnectionGuard
        from aikpi_collector.engine.engine import KpiEngine
        from aikpi_collector.receivers.ingest import Ingest

        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.engine: KpiEngine = KpiEngine(config, self.registry)
        self._ingest = Ingest(
            self.engine, config.max_concurrent_requests, config.memory_budget_bytes
        )
        self._guards = {
            listener: ConnectionGuard(
                listener,
                self.engine.self_metrics,
                max_connections=config.max_connections,
                header_read_timeout=config.header_read_timeout_seconds,
                idle_timeout=config.idle_timeout_seconds,
            )
            for listener in ("otlp_http", "metrics")
        }
        self._tls, self._otlp_auth, self._metrics_auth = _security(config)
        self.http_port = 0
        self.grpc_port = 0
        self.metrics_port = 0
        self._ready = False
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._http_server: uvicorn.Server | None = None
        self._metrics_server: uvicorn.Server | None = None
        self._http_serving: concurrent.futures.Future[None] | None = None
        self._metrics_serving: concurrent.futures.Future[None] | None = None
        self._grpc_server: grpc.aio.Server | None = None

    @property
    def ingest(self) -> Ingest:
        """What the receivers share: the request slots, the memory budget, the engine."""
        return self._ingest

    @property
    def ready(self) -> bool:
        """True while the receivers are bound and accepting."""
        return self._ready

    @property
    def scheme(self) -> str:
        """``https`` when TLS is configured, else ``http``."""
        return "https" if self._tls is not None else "http"

    def _uvicorn_server(self, app: Any, listener: str, grace: float) -> uvicorn.Server:
        import uvicorn

        tls = self._tls
        config = uvicorn.Config(
            app,
            http=self._guards[listener].protocol_class(),
            ssl_context_factory=(
                (lambda _config, _default: server_ssl_context(tls)) if tls is not None else None
            ),
            log_config=None,
            log_level=self.config.log_level.lower(),
            access_log=False,
            lifespan="off",
            # No limit_concurrency: its 503 has no Retry-After and is not counted, and idle
            # connections filled it. The guard's timeouts and connection count replace it.
            timeout_keep_alive=int(self.config.idle_timeout_seconds) or 1,
            timeout_graceful_shutdown=int(grace) or 1,
            server_header=False,
        )
        return uvicorn.Server(config)

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT_SECONDS) -> T:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start_grpc(self) -> int:
        """Create, bind and start the ``grpc.aio`` server (it must be made in its loop)."""
        from aikpi_collector.receivers.grpc_receiver import GrpcLimits, create_grpc_server

        config = self.config
        assert self._executor is not None
        limits = GrpcLimits(
            max_request_bytes=config.max_request_bytes,
            retry_after_seconds=config.retry_after_seconds,
            max_calls=config.max_connections,
            body_read_timeout_seconds=config.body_read_timeout_seconds,
            header_read_timeout_seconds=config.header_read_timeout_seconds,
            idle_timeout_seconds=config.idle_timeout_seconds,
        )
        authorize = self._otlp_auth.problem_in_metadata if self._otlp_auth else None
        server = create_grpc_server(self._ingest, limits, self._executor, authorize)
        host = f"[{config.host}]" if ":" in config.host else config.host
        address = f"{host}:{config.otlp_grpc_port}"
        try:
            if self._tls is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, _grpc_credentials(self._tls))
        except RuntimeError as exc:
            port = 0
            logger.debug("grpc bind failed: %s", exc)
        if not port:
            await server.stop(None)
            raise OSError(f"cannot listen on {config.host}:{config.otlp_grpc_port} (gRPC)")
        await server.start()
        self._grpc_server = server
        return port

    def start(self) -> None:
        """Bind every port, serve in a background thread, return once all accept requests."""
        if self._started:
            raise RuntimeError("CollectorServer already started")
        from aikpi_collector.exposition.metrics_app import ExpositionHealth, create_metrics_app
        from aikpi_collector.receivers.http_receiver import create_http_app
        from aikpi_collector.receivers.ingest import REASON_UNAUTHENTICATED

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

        self._started = True
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.max_concurrent_requests, thread_name_prefix="aikpi-grpc"
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="aikpi-collector-io", daemon=True
        )
        self._thread.start()
        try:
            self.grpc_port = self._run(self._start_grpc())
        except BaseException:
            http_sock.close()
            metrics_sock.close()
            self.stop(grace=0)
            raise

        http_app = create_http_app(
            self._ingest,
            self._guards["otlp_http"],
            max_request_bytes=config.max_request_bytes,
            retry_after_seconds=config.retry_after_seconds,
            body_read_timeout_seconds=config.body_read_timeout_seconds,
            auth=self._otlp_auth,
        )
        self._http_server = self._uvicorn_server(
            http_app, "otlp_http", config.shutdown_grace_seconds
        )
        self_metrics = self.engine.self_metrics
        rejected = self_metrics.requests_rejected
        metrics_app = create_metrics_app(
            self.registry,
            lambda: self._ready,
            self._metrics_auth,
            rejected.labels(transport="metrics", reason=REASON_UNAUTHENTICATED).inc,
            ExpositionHealth(lambda fmt: self_metrics.exposition_errors.labels(format=fmt).inc()),
        )
        self._metrics_server = self._uvicorn_server(metrics_app, "metrics", 1.0)
        self._http_serving = asyncio.run_coroutine_threadsafe(
            self._http_server.serve(sockets=[http_sock]), self._loop
        )
        self._metrics_serving = asyncio.run_coroutine_threadsafe(
            self._metrics_server.serve(sockets=[metrics_sock]), self._loop
        )

        http_server, metrics_server = self._http_server, self._metrics_server
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not (http_server.started and metrics_server.started):
            failed = [f for f in (self._http_serving, self._metrics_serving) if f.done()]
            if failed or time.monotonic() > deadline:
                error = failed[0].exception() if failed else "timed out"
                self.stop(grace=0)
                raise RuntimeError(f"collector HTTP servers failed to start: {error}")
            time.sleep(0.01)
        self._ready = True
        logger.info(
            "aikpi collector ready: OTLP/HTTP %s://%s:%d, OTLP/gRPC %s:%d, metrics %s://%s:%d%s",
            self.scheme,
            config.host,
            self.http_port,
            config.host,
            self.grpc_port,
            self.scheme,
            config.host,
            self.metrics_port,
            " (TLS)" if self._tls else "",
        )

    @staticmethod
    def _wait(future: concurrent.futures.Future[Any] | None, timeout: float) -> None:
        if future is None:
            return
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            logger.warning("collector server did not stop within %.1f s", timeout)
        except Exception:
            logger.exception("collector server stopped with an error")

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``grace`` s), release ports."""
        if not self._started:
            return
        self._started = False
        self._ready = False
        grace = max(0.0, grace)
        loop = self._loop
        assert loop is not None
        grpc_done = None
        if self._grpc_server is not None:
            grpc_done = asyncio.run_coroutine_threadsafe(self._grpc_server.stop(grace), loop)
        if self._http_server is not None:
            self._http_server.config.timeout_graceful_shutdown = max(1, round(grace))
            self._http_server.should_exit = True
            self._http_server.force_exit = grace == 0
        # The HTTP receiver closes its listener at once, then waits for in-flight requests;
        # the metrics port stays up until then, so a last scrape still sees the final counts.
        self._wait(self._http_serving, grace + 2.0)
        self._wait(grpc_done, grace + 1.0)
        if self._metrics_server is not None:
            self._metrics_server.should_exit = True
        self._wait(self._metrics_serving, 5.0)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5.0)
        if not loop.is_running():
            loop.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        logger.info("aikpi collector stopped")

    def __enter__(self) -> CollectorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
