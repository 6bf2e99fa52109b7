"""The KPI engine: one decoded span in, metric updates out.

Pure and stateless per span (a late outcome carries every dimension it needs), so any
number of collector replicas give the same sums. Each span is checked completely first
(every value it contributes is read and validated); only a span that passed every check
touches a metric, so a rejected span changes nothing.

Which spans count is decided by their attributes, never by span names:
``aikpi.span.type`` marks the SDK's own spans, and any other span that carries the
workflow dimension (stamped from baggage) counts for tokens, cost and policy violations.
Spans with neither are ignored.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aikpi import semconv
from prometheus_client import CollectorRegistry

from aikpi_collector.cardinality import OVERFLOW
from aikpi_collector.config import CollectorConfig
from aikpi_collector.dedup import DedupWindow
from aikpi_collector.metrics import (
    CounterFamily,
    ExemplarContext,
    HistogramFamily,
    KpiMetrics,
    SelfMetrics,
)
from aikpi_collector.pricing import PriceBook
from aikpi_collector.spanrecord import SpanRecord
from aikpi_collector.usage import Usage, has_usage, read_usage
from aikpi_collector.validate import (
    SpanRejected,
    check_name,
    check_nonneg,
    check_word,
)

__all__ = (
    "GRPC",
    "HTTP_JSON",
    "HTTP_PROTOBUF",
    "IN_PROCESS",
    "TRANSPORTS",
    "BatchResult",
    "KpiEngine",
    "SpanRejected",
)

log = logging.getLogger(__name__)

HTTP_PROTOBUF = "http_protobuf"
HTTP_JSON = "http_json"
GRPC = "grpc"
IN_PROCESS = "in_process"
TRANSPORTS = (HTTP_PROTOBUF, HTTP_JSON, GRPC, IN_PROCESS)
"""Values of the ``transport`` label of the self-metrics."""

NONE = "none"
"""Label value of a missing team or of a span outside any step."""
UNKNOWN_POLICY = "unknown"
"""Policy label of a violation event without ``aikpi.policy.name``."""

_MAX_MESSAGES = 3

_SPAN_TYPES = frozenset(semconv.SpanType)
_COHORTS = frozenset(semconv.Cohort)
_OUTCOMES = frozenset(semconv.Outcome)
_STATUSES = frozenset(semconv.WorkflowStatus)
_EVENTS = frozenset(semconv.WorkflowEvent)

_STEP = semconv.SpanType.STEP.value
_OUTCOME = semconv.SpanType.OUTCOME.value
_WORKFLOW = semconv.SpanType.WORKFLOW.value
_WORKFLOW_EVENT_TYPE = semconv.SpanType.WORKFLOW_EVENT.value
_FAILED = semconv.WorkflowStatus.FAILED.value
_NEED_STEP = (_STEP, _OUTCOME)
"""Span types that must name their step."""
_COMPLETED = semconv.WorkflowStatus.COMPLETED.value

_SPAN_TYPE = semconv.SPAN_TYPE
_WORKFLOW_NAME = semconv.WORKFLOW_NAME
_STEP_NAME = semconv.STEP_NAME
_COHORT = semconv.COHORT
_TEAM = semconv.TEAM
_CORRELATION_ID = semconv.CORRELATION_ID
_OUTCOME_KEY = semconv.OUTCOME
_CORRECTION = semconv.CORRECTION_SECONDS
_REVIEW = semconv.REVIEW_SECONDS
_POLICY_EVENT = semconv.POLICY_VIOLATION_EVENT
_POLICY_NAME = semconv.POLICY_NAME

_MAX_FLOAT = sys.float_info.max
"""``0.0 <= x <= _MAX_FLOAT`` holds exactly for the finite floats >= 0 (not NaN, not inf)."""

_DIMS_CACHE_SIZE = 8192
_WORKFLOW_STATUS = semconv.WORKFLOW_STATUS
_WORKFLOW_EVENT = semconv.WORKFLOW_EVENT


@dataclass(slots=True)
class BatchResult:
    """What became of one batch of spans; receivers map it to OTLP ``partial_success``."""

    accepted: int
    rejected: int
    duplicates: int
    error_message: str
    """Readable summary of the first rejections; ``""`` when none was rejected."""


class _Handles:
    """Series handles of one (workflow, step, cohort, team), kept with its checked label
    values in the dims cache: a span's updates then build, hash and compare no label tuple.

    A handle is asked of its family on the label set's first update here (``None`` or a
    missing key until then), never ahead: label sets are admitted, and overflow, in the
    same order as when every update names its label tuple.
    """

    __slots__ = (
        "correction",
        "cost",
        "dims",
        "outcomes",
        "policies",
        "review",
        "step_duration",
        "steps",
        "tokens",
        "workflow_duration",
        "workflows",
    )

    def __init__(self, dims: tuple[str, str, str, str]) -> None:
        self.dims = dims
        self.steps: dict[str, Any] = {}
        """By status."""
        self.step_duration: Any = None
        self.outcomes: dict[str, Any] = {}
        """By outcome word."""
        self.correction: Any = None
        self.review: Any = None
        self.workflows: dict[str, Any] = {}
        """By workflow status or event."""
        self.workflow_duration: Any = None
        self.tokens: dict[str, list[Any]] = {}
        """By model: [input, output, cache_read, cache_creation] (``None`` until used)."""
        self.cost: dict[str, Any] = {}
        """By model."""
        self.policies: dict[str, Any] = {}
        """By policy name."""


def _resolve(table: Any, slot: Any, family: CounterFamily | HistogramFamily, key: Any) -> Any:
    """``family``'s handle for the label tuple ``key``, stored in ``table[slot]`` (a handle
    cache miss: the hot path reads ``table`` itself)."""
    handle = table[slot] = family.handle(key)
    return handle


def _span_label(span: SpanRecord) -> str:
    return f"span {span.name[:80]!r} (trace {span.trace_id.hex()}, span {span.span_id.hex()})"


class KpiEngine:
    """Turns spans into the KPI metrics of ``registry``; thread-safe.

    Build one per registry: it registers the KPI metrics and the self-metrics there.
    """

    def __init__(self, config: CollectorConfig, registry: CollectorRegistry) -> None:
        self.config = config
        self.registry = registry
        self._lock = threading.Lock()
        self.self_metrics = sm = SelfMetrics(registry)
        # every transport's series exists from the start (at 0), so Prometheus's increase()
        # sees the first batch too; and no labels() lookup per batch (per span in-process)
        self._received = {t: sm.spans_received.labels(transport=t) for t in TRANSPORTS}
        self._duplicates = {t: sm.duplicate_spans.labels(transport=t) for t in TRANSPORTS}
        self.metrics = KpiMetrics(config, registry, self.self_metrics, self._lock)
        self.prices = PriceBook(config.price_overrides)
        self._dedup = DedupWindow(config.dedup_window_spans)
        self._exemplars = config.exemplars
        self._unpriced_logged: set[str] = set()
        self._unpriced_limit = config.cardinality_limit
        self._dims_cache: dict[tuple[Any, ...], _Handles] = {}

    # --- public API --------------------------------------------------------------------

    def process(self, span: SpanRecord) -> None:
        """Check ``span`` completely, then apply its updates.

        Raises :class:`SpanRejected` (and updates nothing) when a value is invalid. No
        de-duplication and no self-metrics here; :meth:`process_batch` adds both.
        """
        with self._lock:
            self._process(span)

    def process_batch(self, spans: Iterable[SpanRecord], transport: str) -> BatchResult:
        """Process a batch from one request: de-duplicate, check and count every span.

        A rejected span is not remembered by the de-duplication window, so a corrected
        retry still counts. Never raises for a bad span.
        """
        received = accepted = rejected = duplicates = 0
        messages: list[str] = []
        reasons: dict[str, int] = {}
        dedup = self._dedup
        dedup_on = dedup.capacity > 0
        process = self._process
        with self._lock:
            # the window's protocol (DedupWindow.batch_ops), inline: no Python call per span
            seen, order, room = dedup.batch_ops()
            remember, forget = seen.add, seen.discard
            append, oldest = order.append, order.popleft
            for span in spans:
                received += 1
                if dedup_on:
                    key = span.trace_id + span.span_id
                    size = len(seen)
                    remember(key)  # one hash probe both asks "seen?" and remembers
                    if len(seen) == size:
                        duplicates += 1
                        continue
                try:
                    process(span)
                except SpanRejected as exc:
                    if dedup_on:
                        forget(key)
                    rejected += 1
                    reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
                    if len(messages) < _MAX_MESSAGES:
                        messages.append(exc.message)
                    continue
                except Exception as exc:  # a malformed SpanRecord must not lose the batch
                    if dedup_on:
                        forget(key)
                    log.exception("KPI engine failed on a span; it is counted as rejected")
                    rejected += 1
                    reasons["internal_error"] = reasons.get("internal_error", 0) + 1
                    if len(messages) < _MAX_MESSAGES:
                        messages.append(f"a span could not be processed: {type(exc).__name__}")
                    continue
                except BaseException:
                    if dedup_on:
                        forget(key)  # keep the window's set and order in step
                    raise
                if dedup_on:  # accepted: make room, then the key joins the order
                    if room:
                        room -= 1
                    else:
                        forget(oldest())
                    append(key)
                accepted += 1
        sm = self.self_metrics
        if received:
            counter = self._received.get(transport)
            if counter is None:
                counter = sm.spans_received.labels(transport=transport)
            counter.inc(received)
        if duplicates:
            counter = self._duplicates.get(transport)
            if counter is None:
                counter = sm.duplicate_spans.labels(transport=transport)
            counter.inc(duplicates)
        for reason, count in reasons.items():
            sm.spans_rejected.labels(transport=transport, reason=reason).inc(count)
        error_message = ""
        if rejected:
            error_message = f"{rejected} span(s) rejected: " + "; ".join(messages)
            if rejected > len(messages):
                error_message += f"; and {rejected - len(messages)} more"
        return BatchResult(accepted, rejected, duplicates, error_message)

    # --- one span ------------------------------------------------------------------------

    def _process(self, span: SpanRecord) -> None:
        """Check every value of ``span``, then update; the caller holds the engine lock."""
        attributes = span.attributes
        get = attributes.get
        span_type = get(_SPAN_TYPE)
        workflow = get(_WORKFLOW_NAME)
        if span_type is None and workflow is None:
            return  # not an aikpi span and no workflow dimensions: nothing to count

        # 1. Check everything. Nothing below may touch a metric until this block is done.
        outcome = correction = review = status = None
        usage: Usage | None = None
        policies: list[str] | None = None
        try:
            if span_type is not None and (
                type(span_type) is not str or span_type not in _SPAN_TYPES
            ):
                span_type = check_word(_SPAN_TYPE, span_type, _SPAN_TYPES, "invalid_span_type")
            step = get(_STEP_NAME)
            cohort = get(_COHORT)
            raw = (workflow, step, cohort, get(_TEAM))
            if span_type is not None and (
                workflow is None or cohort is None or (step is None and span_type in _NEED_STEP)
            ):
                _missing_dims(span_type, workflow, step)
            try:
                handles = self._dims_cache.get(raw)
            except TypeError:  # an unhashable value (a list): _dims rejects it
                handles = None
            if handles is None:
                handles = self._dims(raw)
            if span_type is None:
                # an LLM call or third-party span: only usage and events can count, and it
                # almost always has usage (``_usage`` itself answers None when it has not)
                usage = read_usage(attributes, self.prices)
            elif span_type == _STEP:
                status = "error" if span.status_error else "ok"
                if _OUTCOME_KEY in attributes:
                    outcome, correction, review = _outcome_values(attributes)
                else:  # refuse bad values even when they would not be counted
                    for key in (_CORRECTION, _REVIEW):
                        value = get(key)
                        if value is not None:
                            check_nonneg(key, value)
            elif span_type == _OUTCOME:
                if _OUTCOME_KEY not in attributes:
                    raise SpanRejected(
                        "missing_attribute",
                        f"attribute {_OUTCOME_KEY!r} is missing; outcome spans need it "
                        f"(allowed: {', '.join(sorted(_OUTCOMES))})",
                    )
                outcome, correction, review = _outcome_values(attributes)
            elif span_type == _WORKFLOW:
                status = get(_WORKFLOW_STATUS)
                if status is None:
                    status = _FAILED if span.status_error else _COMPLETED
                elif type(status) is not str or status not in _STATUSES:
                    status = check_word(_WORKFLOW_STATUS, status, _STATUSES, "invalid_status")
            elif span_type == _WORKFLOW_EVENT_TYPE:
                status = get(_WORKFLOW_EVENT)
                if status is None:
                    raise SpanRejected(
                        "missing_attribute",
                        f"attribute {_WORKFLOW_EVENT!r} is missing; "
                        f"allowed: {', '.join(sorted(_EVENTS))}",
                    )
                status = check_word(_WORKFLOW_EVENT, status, _EVENTS, "invalid_event")
            # SDK spans rarely carry usage: one C-level scan instead of nine lookups
            if span_type is not None and has_usage(attributes):
                usage = read_usage(attributes, self.prices)
            if span.events:
                policies = _policies(span)
        except SpanRejected as exc:
            raise SpanRejected(exc.reason, f"{_span_label(span)}: {exc.message}") from None

        # 2. Update, through the series handles cached for these dimensions (a miss builds
        # the label tuple once, spelled out: no ``(*dims, x)`` list round trip).
        context: ExemplarContext | None = None
        if self._exemplars:
            correlation_id = get(_CORRELATION_ID)
            if correlation_id is not None and type(correlation_id) is not str:
                correlation_id = str(correlation_id)
            context = (span.trace_id, correlation_id, span.end_unix_nano)
        metrics = self.metrics
        h = handles
        dims = h.dims
        wf, step, cohort, team = dims
        if span_type is None:
            pass
        elif span_type == _STEP:
            nanos = span.end_unix_nano - span.start_unix_nano
            handle = h.steps.get(status) or _resolve(
                h.steps, status, metrics.steps, (wf, step, cohort, team, status)
            )
            handle.inc(1.0, context)
            handle = h.step_duration
            if handle is None:
                handle = h.step_duration = metrics.step_duration.handle(dims)
            handle.observe(nanos / 1e9 if nanos > 0 else 0.0, context)
        elif span_type == _WORKFLOW:
            nanos = span.end_unix_nano - span.start_unix_nano
            handle = h.workflows.get(status) or _resolve(
                h.workflows, status, metrics.workflows, (wf, cohort, team, status)
            )
            handle.inc(1.0, context)
            handle = h.workflow_duration
            if handle is None:
                handle = h.workflow_duration = metrics.workflow_duration.handle((wf, cohort, team))
            handle.observe(nanos / 1e9 if nanos > 0 else 0.0, context)
        elif span_type == _WORKFLOW_EVENT_TYPE:
            handle = h.workflows.get(status) or _resolve(
                h.workflows, status, metrics.workflows, (wf, cohort, team, status)
            )
            handle.inc(1.0, context)
        if outcome is not None:
            handle = h.outcomes.get(outcome) or _resolve(
                h.outcomes, outcome, metrics.outcomes, (wf, step, cohort, team, outcome)
            )
            handle.inc(1.0, context)
            if correction is not None:
                handle = h.correction
                if handle is None:
                    handle = h.correction = metrics.correction.handle(dims)
                handle.observe(correction, context)
            if review is not None:
                handle = h.review
                if handle is None:
                    handle = h.review = metrics.review.handle(dims)
                handle.observe(review, context)
        if usage is not None:
            model, uncached, output, cache_read, cache_creation, cost, unpriced = usage
            tokens = metrics.tokens
            row = h.tokens.get(model)
            if row is None:
                row = h.tokens[model] = [None, None, None, None]
            if uncached:
                handle = row[0] or _resolve(
                    row, 0, tokens, (wf, step, cohort, team, model, "input")
                )
                handle.inc(uncached, context)
            if output:
                handle = row[1] or _resolve(
                    row, 1, tokens, (wf, step, cohort, team, model, "output")
                )
                handle.inc(output, context)
            if cache_read:
                handle = row[2] or _resolve(
                    row, 2, tokens, (wf, step, cohort, team, model, "cache_read")
                )
                handle.inc(cache_read, context)
            if cache_creation:
                handle = row[3] or _resolve(
                    row, 3, tokens, (wf, step, cohort, team, model, "cache_creation")
                )
                handle.inc(cache_creation, context)
            handle = h.cost.get(model) or _resolve(
                h.cost, model, metrics.cost, (wf, step, cohort, team, model)
            )
            handle.inc(cost, context)
            if unpriced:
                self._count_unpriced(model)
        if policies:
            for policy in policies:
                handle = h.policies.get(policy) or _resolve(
                    h.policies,
                    policy,
                    metrics.policy_violations,
                    (wf, step, cohort, team, policy),
                )
                handle.inc(1.0, context)

    def _dims(self, raw: tuple[Any, Any, Any, Any]) -> _Handles:
        """(workflow, step, cohort, team) label values of a raw tuple not cached yet: checked
        once, then cached with their series handles (the hot path looks the raw tuple up in
        ``_dims_cache`` itself)."""
        workflow, step, cohort, team = raw
        dims = (
            check_name(_WORKFLOW_NAME, workflow),
            NONE if step is None else check_name(_STEP_NAME, step),
            NONE if cohort is None else check_word(_COHORT, cohort, _COHORTS, "invalid_cohort"),
            NONE if team is None else check_name(_TEAM, team),
        )
        cache = self._dims_cache
        if len(cache) >= _DIMS_CACHE_SIZE:
            cache.clear()
        handles = cache[raw] = _Handles(dims)
        return handles

    def _count_unpriced(self, model: str) -> None:
        logged = self._unpriced_logged
        if model not in logged:
            if len(logged) >= self._unpriced_limit:
                model = OVERFLOW
            else:
                logged.add(model)
                log.warning(
                    "no price known for model %r: its tokens are counted, its cost as 0; "
                    "add it to price_overrides in the collector config",
                    model,
                )
        self.self_metrics.unpriced_spans.labels(model=model).inc()


def _missing_dims(span_type: str, workflow: Any, step: Any) -> None:
    """Reject an aikpi span that lacks a required dimension (the caller found one missing)."""
    if workflow is None:
        raise SpanRejected(
            "missing_attribute",
            f"attribute {_WORKFLOW_NAME!r} is missing; every aikpi span needs it",
        )
    if step is None and span_type in _NEED_STEP:
        raise SpanRejected(
            "missing_attribute",
            f"attribute {_STEP_NAME!r} is missing; {span_type} spans need it",
        )
    raise SpanRejected(
        "missing_attribute",
        f"attribute {_COHORT!r} is missing; allowed: {', '.join(sorted(_COHORTS))}",
    )


def _outcome_values(attributes: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """The outcome word and its seconds; a finite float >= 0 skips ``check_nonneg``."""
    outcome = attributes[_OUTCOME_KEY]
    if type(outcome) is not str or outcome not in _OUTCOMES:
        outcome = check_word(_OUTCOME_KEY, outcome, _OUTCOMES, "invalid_outcome")
    correction = attributes.get(_CORRECTION)
    if correction is not None and (
        type(correction) is not float or not 0.0 <= correction <= _MAX_FLOAT
    ):
        correction = check_nonneg(_CORRECTION, correction)
    review = attributes.get(_REVIEW)
    if review is not None and (type(review) is not float or not 0.0 <= review <= _MAX_FLOAT):
        review = check_nonneg(_REVIEW, review)
    return outcome, correction, review


def _policies(span: SpanRecord) -> list[str]:
    policies = []
    for event in span.events:
        if event.name == _POLICY_EVENT:
            policy = event.attributes.get(_POLICY_NAME)
            policies.append(UNKNOWN_POLICY if policy is None else check_name(_POLICY_NAME, policy))
    return policies
