"""process_batch: self-metrics, the bounded de-duplication window, thread safety."""

from __future__ import annotations

import threading

from aikpi import semconv
from support.engine_spans import new_engine, outcome_span, step_labels, step_span, value


def test_self_metrics_by_transport() -> None:
    engine, registry = new_engine()
    engine.process_batch([step_span(), step_span(), outcome_span("nope")], "http_protobuf")
    engine.process_batch([step_span()], "grpc")
    received = "aikpi_collector_spans_received_total"
    assert value(registry, received, {"transport": "http_protobuf"}) == 3
    assert value(registry, received, {"transport": "grpc"}) == 1
    rejected = {"transport": "http_protobuf", "reason": "invalid_outcome"}
    assert value(registry, "aikpi_collector_spans_rejected_total", rejected) == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 3


def test_retried_batch_is_not_counted_twice() -> None:
    engine, registry = new_engine()
    batch = [step_span(attrs={semconv.OUTCOME: "accepted"}) for _ in range(10)]
    first = engine.process_batch(batch, "grpc")
    retry = engine.process_batch(batch, "grpc")
    assert (first.accepted, first.duplicates) == (10, 0)
    assert (retry.accepted, retry.duplicates, retry.rejected) == (0, 10, 0)
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 10
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 10
    assert value(registry, "aikpi_collector_duplicate_spans_total", {"transport": "grpc"}) == 10
    assert value(registry, "aikpi_collector_spans_received_total", {"transport": "grpc"}) == 20


def test_duplicates_inside_one_batch() -> None:
    engine, registry = new_engine()
    one = step_span()
    result = engine.process_batch([one, one, one], "http_json")
    assert (result.accepted, result.duplicates) == (1, 2)
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1


def test_window_is_bounded_and_forgets_the_oldest_first() -> None:
    engine, registry = new_engine(dedup_window_spans=3)
    spans = [step_span() for _ in range(4)]
    engine.process_batch(spans, "grpc")  # the window now holds spans 1..3
    again = engine.process_batch(spans, "grpc")
    # span 0 was evicted: it counts again (and evicts span 1, which then counts too, ...)
    assert (again.accepted, again.duplicates) == (4, 0)
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 8
    # the window holds 1..3 again (the last three counted): span 3 is a duplicate
    assert engine.process_batch(spans[3:], "grpc").duplicates == 1


def test_eviction_is_fifo() -> None:
    engine, _registry = new_engine(dedup_window_spans=3)
    a, b, c, d = (step_span() for _ in range(4))
    engine.process_batch([a, b, c, d], "grpc")  # a evicted
    result = engine.process_batch([d, c, b], "grpc")
    assert (result.accepted, result.duplicates) == (0, 3)
    result = engine.process_batch([a], "grpc")
    assert (result.accepted, result.duplicates) == (1, 0)


def test_window_zero_turns_dedup_off() -> None:
    engine, registry = new_engine(dedup_window_spans=0)
    one = step_span()
    engine.process_batch([one, one], "grpc")
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 2


def test_rejected_span_is_not_remembered() -> None:
    engine, registry = new_engine()
    bad = outcome_span("acepted")
    assert engine.process_batch([bad], "grpc").rejected == 1
    # the exporter's fixed retry reuses the ids
    fixed = outcome_span("accepted", **{})
    fixed.trace_id, fixed.span_id = bad.trace_id, bad.span_id
    result = engine.process_batch([fixed], "grpc")
    assert (result.accepted, result.duplicates) == (1, 0)
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="accepted")) == 1


def test_dedup_window_of_two_forgets_the_oldest() -> None:
    engine, _ = new_engine(dedup_window_spans=2)
    a, b, c = step_span(), step_span(), step_span()
    assert engine.process_batch([a, a, b], "grpc").duplicates == 1
    engine.process_batch([c], "grpc")  # a is forgotten; b and c are remembered
    assert engine.process_batch([b, c], "grpc").duplicates == 2
    assert engine.process_batch([a], "grpc").accepted == 1


def test_concurrent_batches_count_exactly() -> None:
    engine, registry = new_engine()
    batches = [[step_span(attrs={semconv.OUTCOME: "edited"}) for _ in range(200)] for _ in range(8)]
    results = []

    def worker(batch):
        # every thread sends its batch twice (a retry racing the original)
        results.append(engine.process_batch(batch, "grpc"))
        results.append(engine.process_batch(batch, "grpc"))

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(r.accepted for r in results) == 1600
    assert sum(r.duplicates for r in results) == 1600
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 1600
    assert value(registry, "aikpi_outcomes_total", step_labels(outcome="edited")) == 1600
    assert value(registry, "aikpi_step_duration_seconds_count", step_labels()) == 1600


def test_malformed_record_is_rejected_alone(caplog) -> None:
    engine, registry = new_engine()
    broken = step_span()
    broken.attributes = None  # a receiver bug, not a client error
    result = engine.process_batch([step_span(), broken, step_span()], "grpc")
    assert (result.accepted, result.rejected) == (2, 1)
    assert "AttributeError" in result.error_message
    labels = {"transport": "grpc", "reason": "internal_error"}
    assert value(registry, "aikpi_collector_spans_rejected_total", labels) == 1
    assert value(registry, "aikpi_steps_total", step_labels(status="ok")) == 2


def test_scrape_while_ingesting_new_label_sets() -> None:
    from aikpi_collector.exposition import render_metrics

    engine, registry = new_engine()
    done = threading.Event()
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for index in range(40):
                batch = [
                    step_span(attrs={semconv.STEP_NAME: f"s{index}-{j}", semconv.OUTCOME: "edited"})
                    for j in range(25)
                ]
                engine.process_batch(batch, "grpc")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    renders = 0
    while not done.is_set() or renders == 0:
        render_metrics(registry, "application/openmetrics-text; version=1.0.0")
        renders += 1
    thread.join(timeout=30)
    assert errors == []
    steps = {m.name: m for m in registry.collect()}["aikpi_steps"]
    assert sum(s.value for s in steps.samples) == 1000
    assert len(steps.samples) == 1000


def test_every_transport_series_exists_from_the_start() -> None:
    # at 0 before the first batch, so Prometheus's increase() counts that batch too
    _, registry = new_engine()
    for transport in ("http_protobuf", "http_json", "grpc", "in_process"):
        labels = {"transport": transport}
        get = registry.get_sample_value
        assert get("aikpi_collector_spans_received_total", labels) == 0  # not None: it exists
        assert get("aikpi_collector_duplicate_spans_total", labels) == 0
