"""Where the report reads its numbers: a collector's ``/metrics`` or a Prometheus window.

``/metrics`` gives totals since the collector started; Prometheus gives
``increase(...[window])`` of the raw metrics (no recording rules needed), summed over
replicas and instances with ``sum by``. Every failure becomes :class:`SourceError` with a
message a person can act on.
"""

from __future__ import annotations

from aikpi_collector import catalogue as cat
from aikpi_collector.report.samples import MetricSamples, Sample
from aikpi_collector.slo.spec import parse_duration

__all__ = (
    "COUNTERS",
    "HISTOGRAMS",
    "LABOR_GAUGE",
    "SourceError",
    "parse_metrics_text",
    "read_metrics_url",
    "read_prometheus",
    "window_seconds",
)

COUNTERS: dict[str, tuple[str, ...]] = {
    **{m.name: m.labels for m in cat.METRICS if m.type is cat.MetricType.COUNTER},
    **{m.squares_name: m.labels for m in cat.METRICS if m.squares},
}
"""Counters the report reads (the catalogue's, and the histograms' sums of squares), with
the labels it keeps (``sum by``)."""

HISTOGRAMS: dict[str, tuple[str, ...]] = {
    m.name: m.labels for m in cat.METRICS if m.type is cat.MetricType.HISTOGRAM
}
"""Histograms the report reads (``_bucket``, ``_sum``, ``_count``)."""

LABOR_GAUGE = cat.LABOR_RATE.name

_TIMEOUT_SECONDS = 10.0


def window_seconds(window: str) -> float | None:
    """Length of a Prometheus duration (``28d``, ``1h30m``), ``None`` if not one."""
    try:
        return float(parse_duration(window))
    except ValueError:
        return None


class SourceError(RuntimeError):
    """The source could not be read; the message says which and why."""


def parse_metrics_text(text: str) -> MetricSamples:
    """Parse a Prometheus text exposition into samples (only ``aikpi_`` KPI metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    wanted.update(COUNTERS)
    wanted.add(LABOR_GAUGE)
    samples: list[Sample] = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in wanted:
                    samples.append(Sample(sample.name, dict(sample.labels), float(sample.value)))
    except ValueError as exc:
        raise SourceError(f"not a Prometheus text exposition: {exc}") from exc
    return MetricSamples(samples)


def _get(url: str, params: dict[str, str] | None = None) -> str:
    import httpx

    try:
        response = httpx.get(url, params=params, timeout=_TIMEOUT_SECONDS, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach {url}: {exc or type(exc).__name__}") from exc
    if response.status_code != 200:
        detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise SourceError(f"{url} answered HTTP {response.status_code} {detail}".rstrip())
    return response.text


def read_metrics_url(url: str) -> MetricSamples:
    """Totals since the collector started, read from its ``/metrics`` page."""
    return parse_metrics_text(_get(url))


def _query(base_url: str, promql: str, at: float | None) -> list[dict]:
    import json

    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    body = _get(f"{base_url.rstrip('/')}/api/v1/query", params)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{base_url} is not a Prometheus HTTP API (answer is not JSON)") from exc
    if payload.get("status") != "success":
        raise SourceError(f"Prometheus refused {promql!r}: {payload.get('error', 'unknown error')}")
    data = payload.get("data", {})
    if data.get("resultType") != "vector":
        raise SourceError(f"Prometheus answered {data.get('resultType')!r} to {promql!r}")
    return list(data.get("result", []))


def _vector(base_url: str, name: str, promql: str, at: float | None) -> list[Sample]:
    samples = []
    for item in _query(base_url, promql, at):
        labels = {k: v for k, v in item.get("metric", {}).items() if k != "__name__"}
        samples.append(Sample(name, labels, float(item["value"][1])))
    return samples


def read_prometheus(base_url: str, window: str, at: float | None = None) -> MetricSamples:
    """Increases over ``window`` (e.g. ``28d``) of the raw KPI metrics, summed over replicas.

    Every query is evaluated at the same instant ``at`` (unix seconds; default: when the first
    query runs), so all KPIs describe exactly the same window.
    """
    if window_seconds(window) is None:
        raise SourceError(f"window {window!r} is not a Prometheus duration like 28d, 6h or 30m")
    import time

    at = time.time() if at is None else at
    samples: list[Sample] = []
    for name, labels in COUNTERS.items():
        by = ", ".join(labels)
        samples += _vector(base_url, name, f"sum by ({by}) (increase({name}[{window}]))", at)
    for base, labels in HISTOGRAMS.items():
        by = ", ".join(labels)
        samples += _vector(
            base_url,
            f"{base}_bucket",
            f"sum by ({by}, le) (increase({base}_bucket[{window}]))",
            at,
        )
        for suffix in ("_sum", "_count"):
            samples += _vector(
                base_url,
                f"{base}{suffix}",
                f"sum by ({by}) (increase({base}{suffix}[{window}]))",
                at,
            )
    samples += _vector(base_url, LABOR_GAUGE, f"max by (team) ({LABOR_GAUGE})", at)
    return MetricSamples(samples)
