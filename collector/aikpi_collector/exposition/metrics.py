"""Every metric the collector exposes: the KPI catalogue and the ``aikpi_collector_*`` self-metrics.

KPI metrics live in a lightweight store (a dict from label tuple to a small series object
per metric), because ``prometheus_client``'s ``labels()`` + ``inc()`` costs several
microseconds per update and the engine makes a handful per span. The engine goes further:
it asks a family once for the :meth:`~_Family.handle` of a label set and keeps it, so an
update is one method call on a series, with no label tuple built, hashed or compared.

The store is registered as a custom ``prometheus_client`` collector whose ``collect()``
builds ordinary metric families (the reference output, also used by
``registry.get_sample_value``). ``/metrics`` does not use them: while :data:`RAW_FAMILIES`
is set, ``collect()`` yields the families themselves and :mod:`._kpi_writer` writes their
text from label text cached per series, because ``prometheus_client``'s generators cost
8-14 us per sample. The engine serialises updates under one lock; a
scrape takes the same lock only to copy one metric at a time.

Self-metrics are ordinary ``prometheus_client`` metrics: they change once per batch or
request, and the receivers use them directly (``.labels(...).inc()`` / ``.observe()``).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString

from aikpi_collector import catalogue
from aikpi_collector.config import CollectorConfig
from aikpi_collector.exposition._text import exemplar_parts
from aikpi_collector.exposition.cardinality import OVERFLOW, projection

__all__ = (
    "RAW_FAMILIES",
    "REQUEST_DURATION_BUCKETS",
    "CounterFamily",
    "CounterSeries",
    "ExemplarContext",
    "HistogramFamily",
    "HistogramSeries",
    "KpiMetrics",
    "SelfMetrics",
)

REQUEST_DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Buckets of ``aikpi_collector_request_duration_seconds`` (one OTLP request)."""

RAW_FAMILIES: ContextVar[bool] = ContextVar("aikpi_raw_families", default=False)
"""Set by the fast ``/metrics`` writer around ``registry.collect()``: ``KpiMetrics.collect``
then yields its :class:`CounterFamily` / :class:`HistogramFamily` objects unbuilt (no
``Sample`` per value) for the writer to render. A context variable, so a concurrent
``collect()`` in another thread or task still gets ordinary metric families."""

ExemplarContext = tuple[bytes, "str | None", int]
"""(trace id bytes, correlation id or None, span end in unix nanoseconds), made once per span.
Nanoseconds, not seconds: the engine then allocates no float per span; the exposition
divides (``/ 1e9``, the same float) only for the exemplars it writes."""


def _exemplar(context: ExemplarContext, value: float) -> Exemplar:
    """The ``prometheus_client`` exemplar of ``context`` (the reference output)."""
    trace_id, correlation_id, timestamp = exemplar_parts(context)
    labels = {"trace_id": trace_id}
    if correlation_id is not None:
        labels["correlation_id"] = correlation_id
    return Exemplar(labels, value, timestamp)


class CounterSeries:
    """One counter series: its value and its exemplar (the last update's context and amount)."""

    __slots__ = ("amount", "context", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.context: ExemplarContext | None = None
        self.amount = 0.0

    def inc(self, amount: float, context: ExemplarContext | None) -> None:
        """Add ``amount`` (>= 0); ``context`` (when given) becomes the exemplar."""
        self.value += amount
        if context is not None:
            self.context = context
            self.amount = amount


class HistogramSeries:
    """One histogram series: bucket counts, sum, and per bucket the last exemplar.

    The exemplar of a bucket is kept as two parallel lists (context, observed value), not a
    ``(context, value)`` tuple per observation: no allocation on the hot path.
    """

    __slots__ = ("bounds", "contexts", "counts", "squares", "total", "values")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        width = len(bounds) + 1
        self.bounds = bounds
        self.counts = [0] * width
        self.total = 0.0
        self.squares = 0.0
        """Sum of the squared observations (exposed only where the catalogue asks for it)."""
        self.contexts: list[ExemplarContext | None] = [None] * width
        self.values: list[float] = [0.0] * width

    def observe(self, value: float, context: ExemplarContext | None) -> None:
        """Record ``value`` (>= 0); ``context`` (when given) becomes its bucket's exemplar."""
        index = bisect_left(self.bounds, value)
        self.counts[index] += 1
        self.total += value
        self.squares += value * value
        if context is not None:
            self.contexts[index] = context
            self.values[index] = value


class _Overflowing:
    """Handle of a label set past the cardinality limit: each update is counted as an
    overflow (as updating by label tuple does), then lands in the ``__overflow__`` series."""

    __slots__ = ("_on_overflow", "_series")

    def __init__(self, series: Any, on_overflow: Callable[[], None]) -> None:
        self._series = series
        self._on_overflow = on_overflow

    def inc(self, amount: float, context: ExemplarContext | None) -> None:
        self._on_overflow()
        self._series.inc(amount, context)

    def observe(self, value: float, context: ExemplarContext | None) -> None:
        self._on_overflow()
        self._series.observe(value, context)


class _Family:
    """One KPI metric: its series, the configured label keys and the cardinality guard."""

    __slots__ = (
        "_lock",
        "_on_overflow",
        "_overflow_key",
        "documentation",
        "keyed",
        "label_names",
        "label_text",
        "limit",
        "name",
        "per_run",
        "project",
        "series",
    )

    def __init__(
        self,
        name: str,
        documentation: str,
        catalogue_labels: Sequence[str],
        kept_labels: Sequence[str],
        limit: int,
        lock: threading.Lock,
        on_overflow: Callable[[], None],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names, self.project = projection(catalogue_labels, kept_labels)
        self.per_run = tuple(catalogue_labels[:3]) == catalogue.RUN_DIMS
        """Labelled per workflow run (workflow, cohort, team), not per step."""
        self.keyed = len(catalogue_labels) - (3 if self.per_run else 4)
        """How many further labels it has beyond the dims (status, outcome, model, ...)."""
        self.limit = limit
        self.series: dict[tuple[str, ...], Any] = {}
        self.label_text: dict[tuple[str, ...], Any] = {}
        """Exposition text of each series' labels, filled by the writer at its first scrape."""
        self._overflow_key = (OVERFLOW,) * len(self.label_names)
        self._lock = lock
        self._on_overflow = on_overflow

    def _new_series(self) -> Any:
        raise NotImplementedError

    def header_metric(self) -> Metric:
        """The family without samples: ``prometheus_client`` writes its HELP and TYPE lines."""
        raise NotImplementedError

    def handle(self, key: tuple[str, ...]) -> Any:
        """What to update for the full catalogue label tuple ``key``: its series (created
        when new), or past the cardinality limit a handle that counts every update as an
        overflow. Series are never removed, so a caller may keep the handle of a label set
        it will update again; it must ask only when it is about to update (the first update
        admits the label set, in the same order as updating by label tuple)."""
        if self.project is not None:
            key = self.project(key)
        series = self.series.get(key)
        if series is not None:
            return series
        if len(self.series) < self.limit:
            series = self.series[key] = self._new_series()
            return series
        overflow = self.series.get(self._overflow_key)
        if overflow is None:
            overflow = self.series[self._overflow_key] = self._new_series()
        return _Overflowing(overflow, self._on_overflow)

    def snapshot(self) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
        """A consistent copy of every series, taken under the engine lock."""
        with self._lock:
            return [(key, self._copy(series)) for key, series in self.series.items()]

    @staticmethod
    def _copy(series: Any) -> tuple[Any, ...]:
        raise NotImplementedError


class CounterFamily(_Family):
    """A monotonic counter of :class:`CounterSeries`; a copy is ``(value, context, amount)``."""

    __slots__ = ()

    def _new_series(self) -> CounterSeries:
        return CounterSeries()

    @staticmethod
    def _copy(series: CounterSeries) -> tuple[float, ExemplarContext | None, float]:
        return (series.value, series.context, series.amount)

    def header_metric(self) -> Metric:
        return CounterMetricFamily(self.name, self.documentation, labels=())

    def collect(self) -> Metric:
        """The metric family with its current samples, for exposition."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        sample_name = family.name + "_total"
        names = self.label_names
        append = family.samples.append
        for key, (value, context, amount) in self.snapshot():
            ex = None if context is None else _exemplar(context, amount)
            append(Sample(sample_name, dict(zip(names, key, strict=True)), value, None, ex))
        return family


class HistogramFamily(_Family):
    """A histogram of :class:`HistogramSeries`; a copy is ``(bucket counts, sum, exemplar
    contexts, exemplar values)``, the last two per bucket (context ``None``: no exemplar)."""

    __slots__ = ("bounds", "bucket_labels", "squares")

    def __init__(
        self, *args: Any, bounds: Sequence[float], squares: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.bounds = tuple(float(b) for b in bounds)
        self.bucket_labels = (*(floatToGoString(b) for b in self.bounds), "+Inf")
        self.squares: SquaresFamily | None = SquaresFamily(self) if squares else None
        """The ``<name>_squares_total`` counter beside it, when the catalogue keeps one."""

    def _new_series(self) -> HistogramSeries:
        return HistogramSeries(self.bounds)

    def header_metric(self) -> Metric:
        return HistogramMetricFamily(self.name, self.documentation, labels=())

    @staticmethod
    def _copy(series: HistogramSeries) -> tuple[list[int], float, list[Any], list[float]]:
        return (list(series.counts), series.total, list(series.contexts), list(series.values))

    def collect(self) -> Metric:
        """The metric family with cumulative buckets, count and sum, for exposition."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        bucket_name = self.name + "_bucket"
        count_name = self.name + "_count"
        sum_name = self.name + "_sum"
        names = self.label_names
        les = self.bucket_labels
        append = family.samples.append
        for key, (counts, total, contexts, values) in self.snapshot():
            base = dict(zip(names, key, strict=True))
            running = 0
            for le, count, context, value in zip(les, counts, contexts, values, strict=True):
                running += count
                ex = None if context is None else _exemplar(context, value)
                append(Sample(bucket_name, {**base, "le": le}, running, None, ex))
            append(Sample(count_name, base, running, None, None))
            append(Sample(sum_name, base, total, None, None))
        return family


class SquaresFamily(CounterFamily):
    """``<histogram>_squares_total``: the sum of squared observations of each series of a
    histogram, read from the histogram's own series (same label sets, same overflow), so
    count, sum and sum of squares give the exact mean and variance over any window."""

    __slots__ = ()

    def __init__(self, histogram: HistogramFamily) -> None:
        self.name = f"{histogram.name}_squares_total"
        self.documentation = (
            f"Sum of the squared observations of {histogram.name} (exact variance: "
            "count, sum and sum of squares are all additive)."
        )
        self.label_names = histogram.label_names
        self.per_run = histogram.per_run
        self.keyed = histogram.keyed
        self.project = histogram.project
        self.limit = histogram.limit
        self.series = histogram.series
        """The histogram's series (shared, never copied): a view, not a second store."""
        self.label_text = {}
        self._overflow_key = histogram._overflow_key
        self._lock = histogram._lock
        self._on_overflow = histogram._on_overflow

    def handle(self, key: tuple[str, ...]) -> Any:
        raise TypeError("a squares counter is updated through its histogram, never directly")

    @staticmethod
    def _copy(series: HistogramSeries) -> tuple[float, ExemplarContext | None, float]:
        return (series.squares, None, 0.0)


class SelfMetrics:
    """The ``aikpi_collector_*`` metrics; receivers use ``request_duration`` and
    ``requests_rejected`` directly (``.labels(transport=..., reason=...).inc()``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.spans_received = Counter(
            "aikpi_collector_spans_received_total",
            "Spans received, by transport (before de-duplication and validation).",
            ("transport",),
            registry=registry,
        )
        self.spans_rejected = Counter(
            "aikpi_collector_spans_rejected_total",
            "Spans rejected for an invalid attribute value, by transport and reason.",
            ("transport", "reason"),
            registry=registry,
        )
        self.requests_rejected = Counter(
            "aikpi_collector_requests_rejected_total",
            "Whole requests refused, by transport and reason (malformed, unsupported_media_type, "
            "too_large, overloaded, memory_budget, too_many_connections, body_timeout, "
            "unauthenticated).",
            ("transport", "reason"),
            registry=registry,
        )
        self.connections_closed = Counter(
            "aikpi_collector_connections_closed_total",
            "HTTP connections the collector closed without a request in progress, by listener "
            "and reason (header_timeout: no complete request head in time; idle_timeout: "
            "keep-alive connection idle).",
            ("listener", "reason"),
            registry=registry,
        )
        self.open_connections = Gauge(
            "aikpi_collector_open_connections",
            "HTTP connections open now, by listener (otlp_http, metrics).",
            ("listener",),
            registry=registry,
        )
        self.duplicate_decisions = Counter(
            "aikpi_collector_duplicate_decisions_total",
            "Outcomes not counted because their step was decided already (one decision per "
            "step: a copied token, or a retry from another process).",
            ("transport",),
            registry=registry,
        )
        self.duplicate_spans = Counter(
            "aikpi_collector_duplicate_spans_total",
            "Spans dropped because their (trace id, span id) was counted recently.",
            ("transport",),
            registry=registry,
        )
        self.label_sets_overflowed = Counter(
            "aikpi_collector_label_sets_overflowed_total",
            "Updates sent to the __overflow__ series because a metric hit its cardinality limit.",
            ("metric",),
            registry=registry,
        )
        self.unpriced_spans = Counter(
            "aikpi_collector_unpriced_spans_total",
            "Spans with token usage whose model has no known price (cost counted as 0).",
            ("model",),
            registry=registry,
        )
        self.exposition_errors = Counter(
            "aikpi_collector_exposition_errors_total",
            "Scrapes of /metrics that failed to render (answered 500; /readyz answers 503 until "
            "a render succeeds), by format (text, openmetrics).",
            ("format",),
            registry=registry,
        )
        for fmt in ("text", "openmetrics"):
            self.exposition_errors.labels(format=fmt)  # 0 from the start, for rate() alerts
        self.request_duration = Histogram(
            "aikpi_collector_request_duration_seconds",
            "Time to handle one OTLP export request, by transport.",
            ("transport",),
            buckets=REQUEST_DURATION_BUCKETS,
            registry=registry,
        )


class KpiMetrics:
    """The KPI metrics of :data:`aikpi_collector.catalogue.METRICS`, registered in
    ``registry`` as one custom collector."""

    def __init__(
        self,
        config: CollectorConfig,
        registry: CollectorRegistry,
        self_metrics: SelfMetrics,
        lock: threading.Lock,
    ) -> None:
        self._config = config
        kept = config.label_keys
        limit = config.cardinality_limit
        buckets = config.time_buckets_seconds

        def family(entry: catalogue.Metric) -> Any:
            hook = self_metrics.label_sets_overflowed.labels(metric=entry.name).inc
            args = (entry.name, entry.help, entry.labels, kept, limit, lock, hook)
            if entry.type is catalogue.MetricType.COUNTER:
                return CounterFamily(*args)
            return HistogramFamily(*args, bounds=buckets, squares=entry.squares)

        self.steps: CounterFamily = family(catalogue.STEPS)
        self.assisted_steps: CounterFamily = family(catalogue.ASSISTED_STEPS)
        self.step_duration: HistogramFamily = family(catalogue.STEP_DURATION)
        self.outcomes: CounterFamily = family(catalogue.OUTCOMES)
        self.correction: HistogramFamily = family(catalogue.CORRECTION)
        self.review: HistogramFamily = family(catalogue.REVIEW)
        self.human: HistogramFamily = family(catalogue.HUMAN)
        self.workflows: CounterFamily = family(catalogue.WORKFLOWS)
        self.workflow_duration: HistogramFamily = family(catalogue.WORKFLOW_DURATION)
        self.tokens: CounterFamily = family(catalogue.TOKENS)
        self.cost: CounterFamily = family(catalogue.COST)
        self.policy_violations: CounterFamily = family(catalogue.POLICY_VIOLATIONS)
        families: list[CounterFamily | HistogramFamily] = []
        for one in (
            self.steps,
            self.assisted_steps,
            self.step_duration,
            self.outcomes,
            self.correction,
            self.review,
            self.human,
            self.workflows,
            self.workflow_duration,
            self.tokens,
            self.cost,
            self.policy_violations,
        ):
            families.append(one)
            if isinstance(one, HistogramFamily) and one.squares is not None:
                families.append(one.squares)
        self.families: tuple[CounterFamily | HistogramFamily, ...] = tuple(families)
        registry.register(self)

    def _labor_cost(self) -> GaugeMetricFamily:
        name = catalogue.LABOR_RATE.name
        doc = catalogue.LABOR_RATE.help
        labor = self._config.labor_cost
        if "team" not in self._config.label_keys:
            return GaugeMetricFamily(name, doc, value=labor.default_usd_per_hour)
        gauge = GaugeMetricFamily(name, doc, labels=("team",))
        gauge.add_metric(("default",), labor.default_usd_per_hour)
        for team, rate in sorted(labor.teams.items()):
            if team != "default":
                gauge.add_metric((team,), rate)
        return gauge

    def describe(self) -> Iterator[Metric]:
        """Empty families, so the registry can refuse a second registration of a name."""
        for family in self.families:
            yield family.header_metric()
        yield GaugeMetricFamily(catalogue.LABOR_RATE.name, "", labels=())

    def collect(self) -> Iterator[Any]:
        """Every KPI metric with its current samples; the families themselves (no samples
        built) while :data:`RAW_FAMILIES` is set by the fast ``/metrics`` writer."""
        if RAW_FAMILIES.get():
            yield from self.families
        else:
            for family in self.families:
                yield family.collect()
        yield self._labor_cost()
