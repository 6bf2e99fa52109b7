"""Run the real ``aikpi-collector`` command as a subprocess for a test, and read its metrics.

Usage::

    from support.collector import running_collector

    def test_x(tmp_path):
        with running_collector(tmp_path, {"max_concurrent_requests": 4}) as collector:
            ...  # export to collector.http_endpoint / collector.grpc_endpoint
            assert collector.sample("aikpi_steps_total", {...}) == 3.0

Ports are free loopback ports unless the config names them; the process is stopped with
SIGTERM (and killed if it hangs) when the block ends, and its exit status is checked.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from support.net import free_port, stop_process, wait_http_ok

__all__ = ("CollectorProcess", "parse_samples", "running_collector")

_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 15.0


def parse_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, keyed by (name, label items)."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = float(sample.value)
    return samples


@dataclass
class CollectorProcess:
    """A running collector subprocess and where to reach it."""

    process: subprocess.Popen[bytes]
    host: str
    http_port: int
    grpc_port: int
    metrics_port: int
    config_path: Path
    log_path: Path
    ssl_context: ssl.SSLContext | None = None
    """Client TLS settings when the collector serves TLS (trusting its CA, client cert)."""
    metrics_token: str | None = None
    """Bearer token the test sends to ``/metrics``."""
    _stopped: bool = field(default=False, repr=False)

    @property
    def scheme(self) -> str:
        """``https`` when the collector serves TLS."""
        return "https" if self.ssl_context is not None else "http"

    @property
    def http_endpoint(self) -> str:
        """Base URL for OTLP/HTTP, e.g. ``http://127.0.0.1:4318`` (append ``/v1/traces``)."""
        return f"{self.scheme}://{self.host}:{self.http_port}"

    @property
    def traces_url(self) -> str:
        """Full OTLP/HTTP traces URL."""
        return f"{self.http_endpoint}/v1/traces"

    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` for OTLP/gRPC (insecure)."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        """The Prometheus scrape URL."""
        return f"{self.scheme}://{self.host}:{self.metrics_port}/metrics"

    def log(self) -> str:
        """Everything the collector wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metrics_text(self, accept: str | None = None) -> str:
        """One scrape of ``/metrics`` (Prometheus text unless ``accept`` asks otherwise)."""
        request = urllib.request.Request(self.metrics_url)
        if accept:
            request.add_header("Accept", accept)
        if self.metrics_token:
            request.add_header("Authorization", f"Bearer {self.metrics_token}")
        with urllib.request.urlopen(request, timeout=10, context=self.ssl_context) as response:
            return response.read().decode("utf-8")

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """All samples of one scrape, keyed by (name, label items)."""
        return parse_samples(self.metrics_text())

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """Value of the sample ``name`` whose labels equal ``labels`` exactly, or ``None``.

        Like ``CollectorRegistry.get_sample_value``: counters are named with ``_total``,
        histogram parts with ``_bucket``/``_count``/``_sum``.
        """
        return self.samples().get((name, frozenset((labels or {}).items())))

    def stop(self, timeout: float = _STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, wait for exit (kill after ``timeout``); returns the exit status."""
        if not self._stopped:
            self._stopped = True
            stop_process(self.process, timeout)
        return int(self.process.returncode)


def _wait_ready(collector: CollectorProcess) -> None:
    url = f"{collector.scheme}://{collector.host}:{collector.metrics_port}/readyz"
    try:
        wait_http_ok(
            url,
            timeout=_START_TIMEOUT_SECONDS,
            process=collector.process,
            context=collector.ssl_context,
        )
    except RuntimeError as exc:
        raise RuntimeError(f"collector {exc}; its output:\n{collector.log()}") from exc
    except TimeoutError as exc:
        collector.stop()
        raise TimeoutError(f"collector not ready: {exc}\n{collector.log()}") from exc


@contextmanager
def running_collector(
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    *,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    metrics_token: str | None = None,
) -> Iterator[CollectorProcess]:
    """Start ``python -m aikpi_collector --config FILE`` on free loopback ports; stop it after.

    ``config`` keys go to the YAML file as given (ports default to free ones, host to
    127.0.0.1). The block's end sends SIGTERM and asserts the process exited with status 0.
    With ``tls`` in the config, pass the ``ssl_context`` the test's own requests use
    (``/readyz``, scrapes); ``metrics_token`` goes with every scrape.
    """
    settings: dict[str, Any] = {"host": "127.0.0.1"}
    settings.update(config or {})
    for key in ("otlp_http_port", "otlp_grpc_port", "metrics_port"):
        settings.setdefault(key, free_port())
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    config_path = tmp_path / f"collector-{stamp}.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    log_path = tmp_path / f"collector-{stamp}.log"
    process_env = dict(os.environ)
    process_env["PYTHONUNBUFFERED"] = "1"
    process_env.update(env or {})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "aikpi_collector", "--config", str(config_path), *extra_args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=process_env,
        )
    collector = CollectorProcess(
        process=process,
        host=str(settings["host"]),
        http_port=int(settings["otlp_http_port"]),
        grpc_port=int(settings["otlp_grpc_port"]),
        metrics_port=int(settings["metrics_port"]),
        config_path=config_path,
        log_path=log_path,
        ssl_context=ssl_context,
        metrics_token=metrics_token,
    )
    try:
        _wait_ready(collector)
        yield collector
    finally:
        status = collector.stop()
    if status != 0:
        raise AssertionError(f"collector exited with status {status}:\n{collector.log()}")
