"""The KPI engine: one decoded span in, metric updates out.

Pure and stateless per span (a late outcome carries every dimension it needs), so any
number of collector replicas give the same sums. A span goes through two phases:

1. **Check** (:meth:`KpiEngine._check`): every value the span contributes is read and
   validated (names, words, numbers and their ranges, label text), giving a
   :class:`_Checked` record of its updates, or :class:`SpanRejected`.
2. **Update** (:meth:`KpiEngine._apply`): only a span that passed every check touches a
   metric, so a rejected span changes nothing: a span's updates are all or nothing.

Which spans count is decided by their attributes, never by span names:
``aikpi.span.type`` marks the SDK's own spans, and any other span that carries the
workflow dimension (stamped from baggage) counts for tokens, cost and policy violations.
Spans with neither are ignored, and are not remembered by the de-duplication window.

Two bounded windows make counting idempotent: span ids already counted (an exporter's
retry of a whole batch) and steps already decided (one decision per step, whichever of a
copied token's outcomes arrives first; routing by trace id sends them to one replica).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aikpi import semconv
from aikpi.semconv import (
    COHORT,
    CORRECTION_SECONDS,
    CORRELATION_ID,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    OUTCOME,
    POLICY_NAME,
    POLICY_VIOLATION_EVENT,
    REVIEW_SECONDS,
    SPAN_TYPE,
    STEP_ASSISTED,
    STEP_NAME,
    TEAM,
    WORKFLOW_EVENT,
    WORKFLOW_NAME,
    WORKFLOW_STATUS,
)
from prometheus_client import CollectorRegistry

from aikpi_collector.config import CollectorConfig
from aikpi_collector.engine.dedup import DedupWindow
from aikpi_collector.engine.pricing import PriceBook
from aikpi_collector.engine.spanrecord import SpanRecord
from aikpi_collector.engine.usage import Usage, has_usage, read_usage
from aikpi_collector.engine.validate import (
    MAX_SECONDS,
    MAX_TOKENS,
    SpanRejected,
    check_name,
    check_nonneg,
    check_text,
    check_word,
)
from aikpi_collector.exposition.cardinality import OVERFLOW
from aikpi_collector.exposition.metrics import ExemplarContext, KpiMetrics, SelfMetrics

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
_MAX_NANOS = 2**64 - 1
"""OTLP times are fixed64 nanoseconds (the decoders refuse others; the engine re-checks the
end time its exemplars carry, and durations are bounded by ``MAX_SECONDS``)."""
_DIMS_CACHE_SIZE = 8192
_NAMES_CACHE_SIZE = 8192

_SPAN_TYPES = frozenset(semconv.SpanType)
_COHORTS = frozenset(semconv.Cohort)
_OUTCOMES = frozenset(semconv.Outcome)
_STATUSES = frozenset(semconv.WorkflowStatus)
_EVENTS = frozenset(semconv.WorkflowEvent)

_STEP = semconv.SpanType.STEP.value
_OUTCOME = semconv.SpanType.OUTCOME.value
_WORKFLOW = semconv.SpanType.WORKFLOW.value
_WORKFLOW_EVENT = semconv.SpanType.WORKFLOW_EVENT.value
_AI_ASSISTED = semconv.Cohort.AI_ASSISTED.value
_FAILED = semconv.WorkflowStatus.FAILED.value
_COMPLETED = semconv.WorkflowStatus.COMPLETED.value
_NEED_STEP = (_STEP, _OUTCOME)
"""Span types that must name their step."""
_TOKEN_TYPES = ((1, "input"), (2, "output"), (3, "cache_read"), (4, "cache_creation"))
"""Index in :data:`Usage` and ``token_type`` label value of each token count."""


@dataclass(slots=True)
class BatchResult:
    """What became of one batch of spans; receivers map it to OTLP ``partial_success``."""

    accepted: int
    rejected: int
    duplicates: int
    error_message: str
    """Readable summary of the first rejections; ``""`` when none was rejected."""


class _Keyed(dict[Any, Any]):
    """The handles of one keyed family (steps by status, cost by model, ...) for one set of
    dims: ``keyed[value]``; with two further labels (tokens by model and type) one level
    more, ``keyed[model][token_type]``: no tuple built per lookup."""

    __slots__ = ("depth", "family", "labels")

    def __init__(self, family: Any, labels: tuple[str, ...], depth: int = 1) -> None:
        super().__init__()
        self.family = family
        self.labels = labels
        self.depth = depth

    def __missing__(self, value: str) -> Any:
        labels = (*self.labels, value)
        if self.depth > 1:
            found = self[value] = _Keyed(self.family, labels, self.depth - 1)
        else:
            found = self[value] = self.family.handle(labels)
        return found


class _Handles(dict[Any, Any]):
    """The series handles of one (workflow, step, cohort, team), by metric family:
    ``handles[family]`` is the handle of a family without further labels, or the
    :class:`_Keyed` handles of one with them (``handles[metrics.steps]["ok"]``).

    A handle is asked of its family on first use (``__missing__``: label sets are admitted,
    and overflow, in update order) and kept: a later update is two dict lookups and one
    method call, no label tuple built or hashed.
    """

    __slots__ = ("dims", "run_dims")

    def __init__(self, dims: tuple[str, str, str, str]) -> None:
        super().__init__()
        self.dims = dims
        """The checked label values (workflow, step, cohort, team)."""
        self.run_dims = (dims[0], dims[2], dims[3])
        """(workflow, cohort, team): the labels of the per-run metrics."""

    def __missing__(self, family: Any) -> Any:
        labels = self.run_dims if family.per_run else self.dims
        found = _Keyed(family, labels, family.keyed) if family.keyed else family.handle(labels)
        self[family] = found
        return found


_Checked = tuple[
    _Handles,  # the span's dims and their series handles
    "str | None",  # kind: the aikpi span type; None for a foreign span (usage, events only)
    "str | None",  # status: step ok / error, a workflow's status, or a workflow event
    float,  # seconds: step or workflow duration
    bool,  # assisted: AI output was produced in the step (its human time comes later)
    "str | None",  # outcome
    "float | None",  # correction seconds
    "float | None",  # review seconds
    "bytes | None",  # decides: trace id + span id of the step the outcome decides
    "Usage | None",  # usage
    "list[str] | None",  # policies violated
    "ExemplarContext | None",  # the exemplar of every update (None: exemplars off)
]
"""Every update one span makes, read and checked before any metric is touched (a tuple: it
is built for every span, and a tuple costs a tenth of an object)."""


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
        self._decided_again = {t: sm.duplicate_decisions.labels(transport=t) for t in TRANSPORTS}
        self.metrics = KpiMetrics(config, registry, self.self_metrics, self._lock)
        self.prices = PriceBook(config.price_overrides)
        self._counted = DedupWindow(config.dedup_window_spans)
        self._decided = DedupWindow(config.decided_window_steps)
        self._exemplars = config.exemplars
        self._unpriced: dict[str, Any] = {}
        """Model -> its ``aikpi_collector_unpriced_spans_total`` child."""
        self._unpriced_limit = config.cardinality_limit
        self._dims_cache: dict[tuple[Any, ...], _Handles] = {}
        self._names: set[str] = set()
        """Model and policy names already checked (a bounded cache)."""

    # --- public API --------------------------------------------------------------------

    def process(self, span: SpanRecord) -> None:
        """Check ``span`` completely, then apply its updates.

        Raises :class:`SpanRejected` (and updates nothing) when a value is invalid. No span
        de-duplication and no self-metrics here; :meth:`process_batch` adds both. A second
        decision on the same step is still dropped.
        """
        with self._lock:
            checked = self._check(span)
            if checked is not None:
                self._apply(span, checked)

    def process_batch(self, spans: Iterable[SpanRecord], transport: str) -> BatchResult:
        """Process a batch from one request: de-duplicate, check and count every span.

        Only a span that counted is remembered by the de-duplication window: a rejected
        span's corrected retry still counts, and spans that count nothing (plain library
        spans) do not push counted ids out. Never raises for a bad span.
        """
        received = accepted = rejected = duplicates = decided_again = 0
        messages: list[str] = []
        reasons: dict[str, int] = {}
        counted = self._counted
        with self._lock:
            for span in spans:
                received += 1
                key = span.trace_id + span.span_id
                if key in counted:
                    duplicates += 1
                    continue
                try:
                    checked = self._check(span)
                    if checked is not None:
                        decided_again += self._apply(span, checked)
                        counted.commit(key)
                except SpanRejected as exc:
                    rejected += 1
                    reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
                    if len(messages) < _MAX_MESSAGES:
                        messages.append(exc.message)
                    continue
                except Exception as exc:  # a malformed SpanRecord must not lose the batch
                    log.exception("KPI engine failed on a span; it is counted as rejected")
                    rejected += 1
                    reasons["internal_error"] = reasons.get("internal_error", 0) + 1
                    if len(messages) < _MAX_MESSAGES:
                        messages.append(f"a span could not be processed: {type(exc).__name__}")
                    continue
                accepted += 1
        self._count_batch(transport, received, duplicates, decided_again, reasons)
        error_message = ""
        if rejected:
            error_message = f"{rejected} span(s) rejected: " + "; ".join(messages)
            if rejected > len(messages):
                error_message += f"; and {rejected - len(messages)} more"
        return BatchResult(accepted, rejected, duplicates, error_message)

    # --- 1. check --------------------------------------------------------------------------

    def _check(self, span: SpanRecord) -> _Checked | None:
        """Every update of ``span``, checked; ``None`` when it counts nothing."""
        attributes = span.attributes
        get = attributes.get
        kind = get(SPAN_TYPE)
        workflow = get(WORKFLOW_NAME)
        if kind is None and workflow is None:
            return None  # not an aikpi span and no workflow dimensions: nothing to count
        status = outcome = correction = review = decides = usage = policies = None
        seconds = 0.0
        assisted = False
        try:
            # the span type and the dims (workflow, step, cohort, team), with their handles
            if kind is not None and (type(kind) is not str or kind not in _SPAN_TYPES):
                kind = check_word(SPAN_TYPE, kind, _SPAN_TYPES, "invalid_span_type")
            step = get(STEP_NAME)
            cohort = get(COHORT)
            if kind is not None and (
                workflow is None or cohort is None or (step is None and kind in _NEED_STEP)
            ):
                _missing_dims(kind, workflow, step)
            raw = (workflow, step, cohort, get(TEAM))
            try:
                handles = self._dims_cache.get(raw)
            except TypeError:  # an unhashable value (a list): _handles rejects it
                handles = None
            if handles is None:
                handles = self._handles(raw)
            # what each span type counts
            if kind == _STEP:
                status = "error" if span.status_error else "ok"
                seconds = _duration(span)
                correction, review = _seconds(attributes)
                if OUTCOME in attributes:
                    outcome = _word(attributes, OUTCOME, _OUTCOMES, "invalid_outcome")
                    decides = span.trace_id + span.span_id
                assisted = get(STEP_ASSISTED)
                if type(assisted) is not bool or handles.dims[2] != _AI_ASSISTED:
                    assisted = _assisted(assisted, handles.dims[2])
            elif kind == _OUTCOME:
                outcome = _word(attributes, OUTCOME, _OUTCOMES, "invalid_outcome")
                correction, review = _seconds(attributes)
                if span.parent_span_id:
                    decides = span.trace_id + span.parent_span_id
            elif kind == _WORKFLOW:
                status = get(WORKFLOW_STATUS)
                if status is None:
                    status = _FAILED if span.status_error else _COMPLETED
                elif type(status) is not str or status not in _STATUSES:
                    status = check_word(WORKFLOW_STATUS, status, _STATUSES, "invalid_status")
                seconds = _duration(span)
            elif kind is not None:  # a workflow event
                status = _word(attributes, WORKFLOW_EVENT, _EVENTS, "invalid_event")
            # what any span may count: token usage and cost, policy violations
            if kind is None or has_usage(attributes):
                usage = read_usage(attributes, self.prices)
                if usage is not None and (
                    usage[0] not in self._names
                    or usage[1] > MAX_TOKENS
                    or usage[2] > MAX_TOKENS
                    or usage[3] > MAX_TOKENS
                    or usage[4] > MAX_TOKENS
                ):
                    self._check_usage(attributes, usage)
            if span.events:
                policies = self._policies(span)
            if kind is None and usage is None and not policies:
                return None  # a foreign span without usage or violations counts nothing
            # the exemplar every update of the span carries
            context: ExemplarContext | None = None
            if self._exemplars:
                correlation_id = get(CORRELATION_ID)
                if type(correlation_id) is not str:
                    correlation_id = None if correlation_id is None else str(correlation_id)
                elif not correlation_id.isascii() or "\x00" in correlation_id:
                    check_text(CORRELATION_ID, correlation_id)
                context = (span.trace_id, correlation_id, _end_nanos(span))
        except SpanRejected as exc:
            raise SpanRejected(exc.reason, f"{_span_label(span)}: {exc.message}") from None
        return (
            handles,
            kind,
            status,
            seconds,
            assisted,
            outcome,
            correction,
            review,
            decides,
            usage,
            policies,
            context,
        )

    def _handles(self, raw: tuple[Any, Any, Any, Any]) -> _Handles:
        """Check the raw (workflow, step, cohort, team) of a span and cache their handles."""
        workflow, step, cohort, team = raw
        dims = (
            check_name(WORKFLOW_NAME, workflow),
            NONE if step is None else check_name(STEP_NAME, step),
            NONE if cohort is None else check_word(COHORT, cohort, _COHORTS, "invalid_cohort"),
            NONE if team is None else check_name(TEAM, team),
        )
        if len(self._dims_cache) >= _DIMS_CACHE_SIZE:
            self._dims_cache.clear()
        handles = self._dims_cache[raw] = _Handles(dims)
        return handles

    def _check_usage(self, attributes: dict[str, Any], usage: Usage) -> None:
        """What :func:`read_usage` leaves to the engine: the model name is a valid label
        value and every count is within :data:`MAX_TOKENS`."""
        model = usage[0]
        if model not in self._names:
            key = (
                GEN_AI_RESPONSE_MODEL
                if GEN_AI_RESPONSE_MODEL in attributes
                else GEN_AI_REQUEST_MODEL
            )
            self._remember_name(check_name(key, model))
        if (
            usage[1] > MAX_TOKENS
            or usage[2] > MAX_TOKENS
            or usage[3] > MAX_TOKENS
            or (usage[4] > MAX_TOKENS)
        ):
            raise SpanRejected(
                "out_of_range",
                f"token counts {usage[1:5]}; allowed: 0 to {MAX_TOKENS:,} of each type per span",
            )

    def _policies(self, span: SpanRecord) -> list[str]:
        policies = []
        for event in span.events:
            if event.name == POLICY_VIOLATION_EVENT:
                policy = event.attributes.get(POLICY_NAME)
                if policy is None:
                    policy = UNKNOWN_POLICY
                elif policy not in self._names:
                    self._remember_name(check_name(POLICY_NAME, policy))
                policies.append(policy)
        return policies

    def _remember_name(self, name: str) -> None:
        if len(self._names) >= _NAMES_CACHE_SIZE:
            self._names.clear()
        self._names.add(name)

    # --- 2. update -------------------------------------------------------------------------

    def _apply(self, span: SpanRecord, checked: _Checked) -> int:
        """Update every metric of a checked span (cannot fail: every value was checked).

        One decision per step: an outcome on a step decided already is not counted, and
        the result is then 1 (else 0), for ``aikpi_collector_duplicate_decisions_total``.
        """
        (
            h,
            kind,
            status,
            seconds,
            assisted,
            outcome,
            correction,
            review,
            decides,
            usage,
            policies,
            context,
        ) = checked
        decided_again = 0
        if decides is not None:
            if decides in self._decided:
                outcome, decided_again = None, 1
            else:
                self._decided.commit(decides)
        metrics = self.metrics
        if kind == _STEP:
            h[metrics.steps][status].inc(1.0, context)
            h[metrics.step_duration].observe(seconds, context)
            if assisted:
                h[metrics.assisted_steps].inc(1.0, context)
            else:  # a human did the step: its duration is its human time
                h[metrics.human].observe(seconds, context)
        elif kind == _WORKFLOW:
            h[metrics.workflows][status].inc(1.0, context)
            h[metrics.workflow_duration].observe(seconds, context)
        elif kind == _WORKFLOW_EVENT:
            h[metrics.workflows][status].inc(1.0, context)
        if outcome is not None:
            h[metrics.outcomes][outcome].inc(1.0, context)
            human = 0.0
            if correction is not None:
                h[metrics.correction].observe(correction, context)
                human += correction
            if review is not None:
                h[metrics.review].observe(review, context)
                human += review
            # the human time of an assisted step; a late outcome decides an assisted step,
            # except in the baseline, whose every step already counted its duration
            if assisted or (kind == _OUTCOME and h.dims[2] == _AI_ASSISTED):
                h[metrics.human].observe(human, context)
        if usage is not None:
            model, cost, unpriced = usage[0], usage[5], usage[6]
            tokens = h[metrics.tokens][model]
            for index, token_type in _TOKEN_TYPES:
                count = usage[index]
                if count:
                    tokens[token_type].inc(count, context)
            h[metrics.cost][model].inc(cost, context)
            if unpriced:
                self._count_unpriced(model)
        if policies:
            for policy in policies:
                h[metrics.policy_violations][policy].inc(1.0, context)
        return decided_again

    def _count_unpriced(self, model: str) -> None:
        """One more unpriced span of ``model``: a warning the first time, then only the
        counter (its labelled child kept, as the span rate may be high)."""
        counter = self._unpriced.get(model)
        if counter is None:
            if len(self._unpriced) >= self._unpriced_limit:
                model = OVERFLOW
            else:
                log.warning(
                    "no price known for model %r: its tokens are counted, its cost as 0; "
                    "add it to price_overrides in the collector config",
                    model,
                )
            counter = self._unpriced[model] = self.self_metrics.unpriced_spans.labels(model=model)
        counter.inc()

    def _count_batch(
        self,
        transport: str,
        received: int,
        duplicates: int,
        decided_again: int,
        reasons: dict[str, int],
    ) -> None:
        """The batch's self-metrics."""
        sm = self.self_metrics
        for counters, family, amount in (
            (self._received, sm.spans_received, received),
            (self._duplicates, sm.duplicate_spans, duplicates),
            (self._decided_again, sm.duplicate_decisions, decided_again),
        ):
            if amount:
                counter = counters.get(transport) or family.labels(transport=transport)
                counter.inc(amount)
        for reason, count in reasons.items():
            sm.spans_rejected.labels(transport=transport, reason=reason).inc(count)


# --- checks of one span's values ---------------------------------------------------------


def _end_nanos(span: SpanRecord) -> int:
    """The span's end time for an exemplar: a 64-bit unsigned number of nanoseconds."""
    end = span.end_unix_nano
    if not 0 <= end <= _MAX_NANOS:
        raise SpanRejected(
            "out_of_range", f"end time {end} is not a 64-bit unsigned number of nanoseconds"
        )
    return end


def _duration(span: SpanRecord) -> float:
    """End minus start in seconds (0 when the clock went backwards), within range."""
    nanos = span.end_unix_nano - span.start_unix_nano
    seconds = nanos / 1e9 if nanos > 0 else 0.0
    if seconds > MAX_SECONDS:
        raise SpanRejected(
            "out_of_range", f"duration {seconds:.3g} s; allowed: 0 to {MAX_SECONDS:g} s"
        )
    return seconds


def _word(attributes: dict[str, Any], key: str, allowed: frozenset[str], reason: str) -> str:
    """A required word of a closed set (the common case in one line at the call site would
    save little: this runs once per decision)."""
    value = attributes.get(key)
    if value is None:
        raise SpanRejected(
            "missing_attribute",
            f"attribute {key!r} is missing; allowed: {', '.join(sorted(allowed))}",
        )
    if type(value) is str and value in allowed:
        return value
    return check_word(key, value, allowed, reason)


def _seconds(attributes: dict[str, Any]) -> tuple[float | None, float | None]:
    """Correction and review seconds, each optional (refused when bad, even if unused)."""
    correction = attributes.get(CORRECTION_SECONDS)
    if correction is not None and not (
        type(correction) is float and 0.0 <= correction <= MAX_SECONDS
    ):
        correction = check_nonneg(CORRECTION_SECONDS, correction)
    review = attributes.get(REVIEW_SECONDS)
    if review is not None and not (type(review) is float and 0.0 <= review <= MAX_SECONDS):
        review = check_nonneg(REVIEW_SECONDS, review)
    return correction, review


def _assisted(assisted: Any, cohort: str) -> bool:
    """Whether the step's human time comes with its outcome: ``aikpi.step.assisted`` in
    the AI-assisted cohort (absent, from SDKs before it: assisted, the earlier definition
    of human time). Every baseline step costs its duration, whatever it says (design)."""
    if assisted is not None and type(assisted) is not bool:
        raise SpanRejected(
            "invalid_type",
            f"attribute {STEP_ASSISTED!r} = {assisted!r}; true or false is required",
        )
    if cohort != _AI_ASSISTED:
        return False
    return assisted is not False


def _missing_dims(kind: str, workflow: Any, step: Any) -> None:
    """Reject an aikpi span that lacks a required dimension (the caller found one missing)."""
    if workflow is None:
        raise SpanRejected(
            "missing_attribute",
            f"attribute {WORKFLOW_NAME!r} is missing; every aikpi span needs it",
        )
    if step is None and kind in _NEED_STEP:
        raise SpanRejected(
            "missing_attribute",
            f"attribute {STEP_NAME!r} is missing; {kind} spans need it",
        )
    raise SpanRejected(
        "missing_attribute",
        f"attribute {COHORT!r} is missing; allowed: {', '.join(sorted(_COHORTS))}",
    )
