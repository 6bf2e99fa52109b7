"""``aikpi-collector serve``: run the OTLP receivers and ``/metrics`` until SIGTERM or SIGINT.

Exit status: 0 after a graceful stop, 2 for a bad configuration (the message names the key
and what is allowed), 1 when a port cannot be bound.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ("add_arguments", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``serve``; each port/host option overrides the same key of the config file."""
    parser.add_argument("--config", metavar="FILE", help="YAML config file (see docs/collector.md)")
    parser.add_argument(
        "--host", metavar="ADDR", help="address to listen on (config key host; 127.0.0.1)"
    )
    parser.add_argument(
        "--otlp-http-port",
        type=int,
        metavar="PORT",
        help="OTLP/HTTP port (config key otlp_http_port; 4318)",
    )
    parser.add_argument(
        "--otlp-grpc-port",
        type=int,
        metavar="PORT",
        help="OTLP/gRPC port (config key otlp_grpc_port; 4317)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="/metrics, /healthz, /readyz port (metrics_port; 9464)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT: stop accepting, finish in-flight requests, return 0."""
    import logging
    import signal
    import threading

    from aikpi_collector.config import ConfigError, load_config

    try:
        config = load_config(
            args.config,
            host=args.host,
            otlp_http_port=args.otlp_http_port,
            otlp_grpc_port=args.otlp_grpc_port,
            metrics_port=args.metrics_port,
        )
    except ConfigError as exc:
        print(f"aikpi-collector: {exc}", file=sys.stderr)
        return 2

    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from aikpi_collector.gc_tuning import tune_gc
    from aikpi_collector.server import CollectorServer

    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("received %s, shutting down", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    _preload_price_table()
    server = CollectorServer(config)
    try:
        try:
            server.start()
        except OSError as exc:
            print(f"aikpi-collector: {exc}", file=sys.stderr)
            return 1
        tune_gc()  # the same settings as the engine benchmark
        scheme = server.scheme
        print(
            f"aikpi-collector listening: OTLP/HTTP {scheme}://{config.host}:{server.http_port}"
            f"/v1/traces, OTLP/gRPC {config.host}:{server.grpc_port}"
            f"{' (TLS)' if scheme == 'https' else ''}, "
            f"metrics {scheme}://{config.host}:{server.metrics_port}/metrics",
            file=sys.stderr,
            flush=True,
        )
        while not stop_requested.wait(1.0):
            pass
        server.stop(grace=config.shutdown_grace_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _preload_price_table() -> None:
    """Import ``genai-prices`` (a dependency of the ``collector`` extra) before serving: the
    import takes 100-200 ms, which the first request needing a table price would otherwise
    pay inside the engine lock."""
    import genai_prices  # noqa: F401
