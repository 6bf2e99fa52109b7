"""Run a real Prometheus and Alertmanager for a test, on free loopback ports in tmp dirs.

Usage::

    from support.prometheus import running_prometheus

    with running_prometheus(tmp_path, targets=[collector_host_port], rule_files=[...]) as prom:
        prom.wait_for(lambda: prom.query("up") != [])

Each process is stopped with SIGTERM (killed if it hangs) when its block ends.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from support.binaries import require_binary
from support.net import free_port, stop_process, wait_http_ok

__all__ = (
    "AlertmanagerProcess",
    "PrometheusError",
    "PrometheusProcess",
    "running_alertmanager",
    "running_prometheus",
)

T = TypeVar("T")
_START_TIMEOUT_SECONDS = 30.0


class PrometheusError(RuntimeError):
    """The HTTP API answered with an error (bad query, server error)."""


def _get_json(url: str, timeout: float = 10.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", errors="replace")
        raise PrometheusError(f"{url} -> HTTP {exc.code}: {body}") from exc


@contextmanager
def _started(argv: list[str], log_path: Path, ready_url: str, what: str) -> Iterator[Any]:
    """Start ``argv`` (output to ``log_path``), yield it once ``ready_url`` answers, stop it."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        try:
            wait_http_ok(ready_url, timeout=_START_TIMEOUT_SECONDS, process=process)
        except (RuntimeError, TimeoutError) as exc:
            output = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise RuntimeError(f"{what} did not start ({exc}):\n{output}") from exc
        yield process
    finally:
        stop_process(process)


def _wait(predicate: Callable[[], T], timeout: float, interval: float, log: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except PrometheusError as exc:
            last = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"condition not reached within {timeout}s (last error: {last})\n{log()}")


@dataclass
class _ServerProcess:
    """A running server on loopback: its process, port and log."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9090``."""
        return f"http://{self.address}"

    def log(self) -> str:
        """The server's own output so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.25
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; return that value."""
        return _wait(predicate, timeout, interval, self.log)


class PrometheusProcess(_ServerProcess):
    """A running Prometheus and its HTTP API."""

    def api(self, path: str, **params: str) -> Any:
        """``data`` of one API call (``/api/v1/<path>``); raises on ``status: error``."""
        query = urllib.parse.urlencode(params)
        payload = _get_json(f"{self.url}/api/v1/{path}?{query}")
        if payload.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {payload}")
        return payload["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; the result vector (``[{'metric': ..., 'value': [t, 'v']}, ...]``)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def query_range(self, expr: str, start: float, end: float, step: str = "1s") -> list[Any]:
        """Range query; the result matrix."""
        data = self.api(
            "query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step
        )
        return list(data["result"])

    def values(self, expr: str) -> dict[frozenset[tuple[str, str]], float]:
        """Instant query as ``{label items: value}`` (metric name dropped)."""
        out = {}
        for item in self.query(expr):
            labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
            out[frozenset(labels.items())] = float(item["value"][1])
        return out

    def firing_alerts(self) -> list[dict[str, Any]]:
        """Alerts Prometheus holds in state ``firing``."""
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]


@contextmanager
def running_prometheus(
    tmp_path: Path,
    *,
    targets: Sequence[str] = (),
    rule_files: Sequence[Path] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    alertmanager: str | None = None,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[PrometheusProcess]:
    """Start Prometheus scraping ``targets`` (``host:port``, job ``aikpi``) with rules loaded.

    ``alertmanager`` is ``host:port`` of an Alertmanager to notify. Exemplar storage is on, so
    exemplars scraped from the collector can be queried. ``data_dir`` is a TSDB directory to
    start from (e.g. blocks backfilled with ``promtool tsdb create-blocks-from``; default: a
    fresh one); ``extra_args`` are further flags (e.g. a long
    ``--storage.tsdb.retention.time`` so that backfilled history is not deleted at start).
    """
    binary = require_binary("prometheus")
    directory = Path(tmp_path) / f"prometheus-{time.monotonic_ns()}"
    directory.mkdir(parents=True)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": [
            {"job_name": "aikpi", "static_configs": [{"targets": list(targets)}]},
        ],
    }
    if alertmanager:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}],
        }
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log_path = directory / "prometheus.log"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data_dir if data_dir is not None else directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--enable-feature=exemplar-storage",
        "--log.level=warn",
        *extra_args,
    ]
    ready = f"http://127.0.0.1:{port}/-/ready"
    with _started(argv, log_path, ready, "Prometheus") as process:
        yield PrometheusProcess(process, port, log_path)


class AlertmanagerProcess(_ServerProcess):
    """A running Alertmanager and its v2 API (``address`` goes into Prometheus's config)."""

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: every alert Alertmanager currently holds."""
        return list(_get_json(f"{self.url}/api/v2/alerts"))


@contextmanager
def running_alertmanager(
    tmp_path: Path, config: dict[str, Any] | Path | None = None
) -> Iterator[AlertmanagerProcess]:
    """Start Alertmanager (clustering off) with ``config`` (a dict, a file, or a null receiver)."""
    binary = require_binary("alertmanager")
    directory = Path(tmp_path) / f"alertmanager-{time.monotonic_ns()}"
    directory.mkdir(parents=True)
    if isinstance(config, Path):
        config_path = config
    else:
        config_path = directory / "alertmanager.yml"
        settings = config or {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}
        config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    port = free_port()
    log_path = directory / "alertmanager.log"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=info",
    ]
    ready = f"http://127.0.0.1:{port}/-/ready"
    with _started(argv, log_path, ready, "Alertmanager") as process:
        yield AlertmanagerProcess(process, port, log_path)
