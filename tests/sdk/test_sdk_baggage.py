"""Dimensions travel as baggage: stamped on third-party spans, kept in threads, across W3C hops."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import aikpi
from aikpi import semconv
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context

DIMS = (semconv.CORRELATION_ID, semconv.WORKFLOW_NAME, semconv.STEP_NAME, semconv.COHORT)


def test_third_party_span_from_plain_tracer_is_stamped(aikpi_spans):
    library = aikpi_spans.tracer("openai.instrumentation")
    with aikpi.workflow("support", correlation_id="CASE-1", team="tier1"):
        with library.start_as_current_span("in workflow only"):
            pass
        with aikpi.step("draft"), library.start_as_current_span("chat gpt-4o") as span:
            span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, 12)
    with library.start_as_current_span("outside"):
        pass

    chat = aikpi_spans.one("chat gpt-4o").attributes
    assert chat[semconv.CORRELATION_ID] == "CASE-1"
    assert chat[semconv.WORKFLOW_NAME] == "support"
    assert chat[semconv.STEP_NAME] == "draft"
    assert chat[semconv.COHORT] == "ai_assisted"
    assert chat[semconv.TEAM] == "tier1"
    assert chat[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert semconv.SPAN_TYPE not in chat  # stamping adds dimensions, never a span type

    wf_only = aikpi_spans.one("in workflow only").attributes
    assert wf_only[semconv.CORRELATION_ID] == "CASE-1"
    assert semconv.STEP_NAME not in wf_only
    assert not any(key.startswith("aikpi.") for key in aikpi_spans.one("outside").attributes)


def test_baggage_holds_dimensions_inside_the_block(aikpi_spans):
    with aikpi.workflow("support", correlation_id="CASE-2"), aikpi.step("draft"):
        entries = dict(baggage.get_all())
    assert entries == {
        semconv.CORRELATION_ID: "CASE-2",
        semconv.WORKFLOW_NAME: "support",
        semconv.STEP_NAME: "draft",
        semconv.COHORT: "ai_assisted",
    }
    assert dict(baggage.get_all()) == {}


def test_thread_with_copied_context_keeps_dimensions(aikpi_spans):
    library = aikpi_spans.tracer()
    seen: dict[str, object] = {}

    def work(label: str) -> None:
        seen[label] = aikpi.current_step()
        with library.start_as_current_span(f"thread {label}"):
            pass

    with aikpi.workflow("batch", correlation_id="RUN-9"), aikpi.step("fan-out") as s:
        ctx = contextvars.copy_context()
        copied = threading.Thread(target=ctx.run, args=(work, "copied"))
        plain = threading.Thread(target=work, args=("plain",))
        copied.start()
        plain.start()
        copied.join()
        plain.join()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(contextvars.copy_context().run, work, "pool").result()

    assert seen["copied"] is s
    assert seen["pool"] is s
    assert seen["plain"] is None  # a thread started without the context has none (as in OTel)
    assert aikpi_spans.one("thread copied").attributes[semconv.CORRELATION_ID] == "RUN-9"
    assert aikpi_spans.one("thread pool").attributes[semconv.STEP_NAME] == "fan-out"
    assert semconv.CORRELATION_ID not in aikpi_spans.one("thread plain").attributes


def test_inject_extract_continues_the_workflow(aikpi_spans):
    headers: dict[str, str] = {}
    handoff = aikpi.workflow("handoff", correlation_id="PR-42", cohort="baseline", team="web")
    with handoff, aikpi.step("send") as sender:
        aikpi.inject(headers)
        sender_ctx = sender.span.get_span_context()
    assert set(headers) == {"traceparent", "baggage"}
    assert f"{sender_ctx.trace_id:032x}" in headers["traceparent"]

    # as a receiving service would: a clean context, then the headers of an internal hop
    token = otel_context.attach(otel_context.Context())
    try:
        with aikpi.continue_from(headers, internal=True), aikpi.step("receive") as receiver:
            assert receiver.correlation_id == "PR-42"
            assert aikpi.current_workflow() is None  # the run object lives upstream
    finally:
        otel_context.detach(token)

    span = aikpi_spans.one("step receive")
    assert span.context.trace_id == sender_ctx.trace_id
    assert span.parent.span_id == sender_ctx.span_id
    assert span.parent.is_remote
    attributes = span.attributes
    assert attributes[semconv.CORRELATION_ID] == "PR-42"
    assert attributes[semconv.WORKFLOW_NAME] == "handoff"
    assert attributes[semconv.STEP_NAME] == "receive"
    assert attributes[semconv.COHORT] == "baseline"
    assert attributes[semconv.TEAM] == "web"


def test_switch_off_keeps_dimensions_out_of_outgoing_headers():
    from aikpi.testing import capture_spans

    with capture_spans(propagate_baggage=False) as spans:
        library = spans.tracer()
        with aikpi.workflow("private", correlation_id="SECRET-ISH"), aikpi.step("call"):
            assert dict(baggage.get_all()) == {}
            auto: dict[str, str] = {}
            propagate.inject(auto)  # what an instrumented HTTP client does on its own
            explicit: dict[str, str] = {}
            aikpi.inject(explicit)  # the explicit helper for an internal hop
            with library.start_as_current_span("still stamped"):
                pass
        assert "baggage" not in auto
        assert "traceparent" in auto
        assert "aikpi.correlation_id=SECRET-ISH" in explicit["baggage"]
        stamped = spans.one("still stamped").attributes
        assert stamped[semconv.CORRELATION_ID] == "SECRET-ISH"

        # upstream dimensions received while the switch is off are not passed on either
        with aikpi.continue_from(explicit, internal=True), aikpi.step("next") as nxt:
            onward: dict[str, str] = {}
            propagate.inject(onward)
        assert nxt.correlation_id == "SECRET-ISH"
        assert "aikpi" not in onward.get("baggage", "")


def test_switch_from_environment(monkeypatch):
    from aikpi.testing import capture_spans

    monkeypatch.setenv("AIKPI_BAGGAGE_PROPAGATION", "off")
    with capture_spans(), aikpi.step("quiet"):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        assert "baggage" not in carrier
    monkeypatch.setenv("AIKPI_BAGGAGE_PROPAGATION", "on")
    with capture_spans(), aikpi.step("loud"):
        carrier = {}
        propagate.inject(carrier)
        assert "aikpi.step.name=loud" in carrier["baggage"]


def test_received_bad_baggage_values_are_dropped_not_raised(aikpi_spans):
    headers = {"baggage": "aikpi.correlation_id=C-1,aikpi.cohort=treatment,aikpi.team=" + "x" * 300}
    with aikpi.continue_from(headers, internal=True), aikpi.step("tolerant") as s:
        pass
    assert s.correlation_id == "C-1"
    attributes = aikpi_spans.one("step tolerant").attributes
    assert attributes[semconv.COHORT] == "ai_assisted"
    assert semconv.TEAM not in attributes


def test_received_baggage_without_workflow_still_names_one(aikpi_spans):
    # the collector counts only spans with a workflow name: a library's span (tokens) under
    # received baggage that names none gets the same "none" as a step outside any workflow
    library = aikpi_spans.tracer("openai.instrumentation")
    with (
        aikpi.continue_from({"baggage": "aikpi.correlation_id=C-2"}, internal=True),
        library.start_as_current_span("chat gpt-4o"),
    ):
        pass
    chat = aikpi_spans.one("chat gpt-4o").attributes
    assert chat[semconv.CORRELATION_ID] == "C-2"
    assert chat[semconv.WORKFLOW_NAME] == "none"


def test_a_bad_received_entry_is_warned_about_once_not_per_span(aikpi_spans, caplog):
    library = aikpi_spans.tracer("http.client")
    headers = {"baggage": "aikpi.correlation_id=C-3,aikpi.cohort=treatment"}
    with aikpi.continue_from(headers, internal=True):
        for _ in range(5):
            with library.start_as_current_span("GET"):
                pass
    warnings = [r for r in caplog.records if "aikpi.cohort" in r.getMessage()]
    assert len(warnings) == 1
    assert len(aikpi_spans.spans) == 5
    assert {s.attributes[semconv.COHORT] for s in aikpi_spans.spans} == {"ai_assisted"}
