"""Inbound baggage is untrusted: only signed (shared key) or internal hops set the dimensions.

The receiving service is a real second process (``sdk_child_program.py serve``): an HTTP
server whose handler does what web-framework OTel instrumentations do (the global propagator
extracts ``traceparent`` and ``baggage``, a server span is current), then opens an aikpi step
with a GenAI library span inside. Requests come from this process over loopback, with
forged, signed, tampered or foreign-key headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aikpi
import pytest
from aikpi import semconv
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from test_sdk_processes import CHILD, DIM_KEYS, child_env, run_child

FORGED = (
    "aikpi.correlation_id=FORGED-1,aikpi.workflow.name=payroll-approval,"
    "aikpi.cohort=baseline,aikpi.team=finance"
)
UNTRUSTED_LOG = "ignoring received baggage"


@dataclass
class Service:
    """A running receiving service; ``get(headers)`` returns the spans that request made."""

    port: int
    stderr: str = ""
    requests: int = field(default=0)

    def get(self, headers: dict[str, str], path: str = "/draft") -> dict[str, dict[str, Any]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            spans = json.loads(response.read())
        return {span["name"]: span for span in spans}


@contextmanager
def service(**env: str) -> Iterator[Service]:
    proc = subprocess.Popen(
        [sys.executable, CHILD, "serve"],
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, proc.stderr.read() if proc.stderr else "no output"
        running = Service(json.loads(first)["port"])
        yield running
        running.get({}, "/quit")
        _, running.stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, running.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def dims(span: dict[str, Any]) -> dict[str, Any]:
    return {key: span["attributes"].get(key) for key in DIM_KEYS}


def use_key(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    """Set or clear AIKPI_TOKEN_KEY as an application would, then (re)configure."""
    if key is None:
        monkeypatch.delenv("AIKPI_TOKEN_KEY", raising=False)
    else:
        monkeypatch.setenv("AIKPI_TOKEN_KEY", key)
    aikpi.configure()


def signed_headers(monkeypatch: pytest.MonkeyPatch, key: str) -> dict[str, str]:
    """Headers of a step in workflow ``handoff`` (PR-7, baseline, platform), signed by ``key``."""
    use_key(monkeypatch, key)
    headers: dict[str, str] = {}
    handoff = aikpi.workflow("handoff", correlation_id="PR-7", cohort="baseline", team="platform")
    with handoff, aikpi.step("upstream"):
        aikpi.inject(headers)
    return headers


HANDOFF = {
    semconv.CORRELATION_ID: "PR-7",
    semconv.WORKFLOW_NAME: "handoff",
    semconv.STEP_NAME: "handle",
    semconv.COHORT: "baseline",
    semconv.TEAM: "platform",
}


def assert_ignored(spans: dict[str, dict[str, Any]], forged_id: str) -> None:
    """The step and its GenAI span carry the service's own dimensions, none received."""
    step, chat, server = spans["step handle"], spans["chat m"], spans["GET /draft"]
    own = dims(step)
    assert own[semconv.CORRELATION_ID] != forged_id
    assert own[semconv.WORKFLOW_NAME] == "none"
    assert own[semconv.COHORT] == "ai_assisted"
    assert own[semconv.TEAM] is None
    assert dims(chat) == own
    # the server span started under the received baggage alone: nothing stamped
    assert not any(key.startswith("aikpi.") for key in server["attributes"])


@pytest.mark.parametrize("key", [None, "service-key"], ids=["no-key", "with-key"])
def test_forged_baggage_cannot_move_traffic_or_set_the_correlation_id(aikpi_spans, key):
    env = {"AIKPI_TOKEN_KEY": key} if key else {}
    other = FORGED.replace("FORGED-1", "FORGED-2")
    with service(**env) as svc:
        first = svc.get({"baggage": FORGED})
        again = svc.get({"baggage": FORGED})
        svc.get({"baggage": other})
        assert_ignored(first, "FORGED-1")
        assert_ignored(again, "FORGED-1")
        # two requests never share a correlation id that a client chose
        assert (
            dims(first["step handle"])[semconv.CORRELATION_ID]
            != dims(again["step handle"])[semconv.CORRELATION_ID]
        )
    # one log line per distinct header, not per request or span
    lines = [line for line in svc.stderr.splitlines() if UNTRUSTED_LOG in line]
    assert len(lines) == 2, svc.stderr
    assert "not signed" in lines[0]


def test_signed_baggage_from_a_process_with_the_same_key_is_honoured(aikpi_spans, monkeypatch):
    headers = signed_headers(monkeypatch, "shared-secret")
    assert "aikpi.signature=v1." in headers["baggage"]
    # what an instrumented HTTP client sends on its own (global propagator) is signed too
    auto: dict[str, str] = {}
    handoff = aikpi.workflow("handoff", correlation_id="PR-7", cohort="baseline", team="platform")
    with handoff, aikpi.step("upstream"):
        propagate.inject(auto)
    with service(AIKPI_TOKEN_KEY="shared-secret") as svc:
        explicit_spans = svc.get(headers)
        auto_spans = svc.get(auto)
    for spans in (explicit_spans, auto_spans):
        assert dims(spans["step handle"]) == HANDOFF
        assert dims(spans["chat m"]) == HANDOFF
        server = dims(spans["GET /draft"])  # stamped from the (trusted) received baggage
        assert server[semconv.CORRELATION_ID] == "PR-7"
        assert server[semconv.COHORT] == "baseline"
    assert UNTRUSTED_LOG not in svc.stderr


def tamper(headers: dict[str, str], old: str, new: str) -> dict[str, str]:
    assert old in headers["baggage"]
    return {**headers, "baggage": headers["baggage"].replace(old, new)}


def test_tampered_or_foreign_signed_baggage_is_ignored_entirely(aikpi_spans, monkeypatch):
    headers = signed_headers(monkeypatch, "shared-secret")
    to_ai = tamper(headers, "aikpi.cohort=baseline", "aikpi.cohort=ai_assisted")
    other_team = tamper(headers, "aikpi.team=platform", "aikpi.team=finance")
    no_signature = {
        **headers,
        "baggage": ",".join(
            entry for entry in headers["baggage"].split(",") if "aikpi.signature" not in entry
        ),
    }
    with service(AIKPI_TOKEN_KEY="shared-secret") as svc:
        for forged in (to_ai, other_team, no_signature):
            assert_ignored(svc.get(forged), "PR-7")
    assert "signature does not match" in svc.stderr
    assert "not signed" in svc.stderr
    with service(AIKPI_TOKEN_KEY="another-key") as svc:
        assert_ignored(svc.get(headers), "PR-7")
    assert "signature does not match" in svc.stderr
    with service() as svc:  # no key to check it with
        assert_ignored(svc.get(headers), "PR-7")
    assert "AIKPI_TOKEN_KEY is not set here" in svc.stderr


def test_trust_inbound_baggage_from_the_environment_is_honoured(aikpi_spans):
    with service(AIKPI_TRUST_INBOUND_BAGGAGE="true") as svc:
        spans = svc.get({"baggage": FORGED})
    assert dims(spans["step handle"]) == {
        semconv.CORRELATION_ID: "FORGED-1",
        semconv.WORKFLOW_NAME: "payroll-approval",
        semconv.STEP_NAME: "handle",
        semconv.COHORT: "baseline",
        semconv.TEAM: "finance",
    }
    assert UNTRUSTED_LOG not in svc.stderr


@pytest.mark.parametrize("internal", [True, False])
def test_internal_hop_opt_in_per_call_in_another_process(aikpi_spans, internal):
    headers: dict[str, str] = {}
    handoff = aikpi.workflow("handoff", correlation_id="PR-8", cohort="baseline", team="platform")
    with handoff, aikpi.step("upstream") as up:
        aikpi.inject(headers)  # no key here: unsigned
    assert "aikpi.signature" not in headers["baggage"]
    args = ["continue", json.dumps(headers)] + (["internal"] if internal else [])
    spans = {span["name"]: span for span in run_child(*args)}
    downstream = spans["step downstream"]
    # the trace continues either way; the workflow only on an internal hop
    assert downstream["trace_id"] == f"{up.span.get_span_context().trace_id:032x}"
    if internal:
        assert downstream["attributes"][semconv.CORRELATION_ID] == "PR-8"
        assert downstream["attributes"][semconv.COHORT] == "baseline"
        assert downstream["attributes"][semconv.TEAM] == "platform"
    else:
        assert downstream["attributes"][semconv.CORRELATION_ID] != "PR-8"
        assert downstream["attributes"][semconv.WORKFLOW_NAME] == "none"
        assert semconv.TEAM not in downstream["attributes"]


def test_configure_trust_inbound_baggage(aikpi_spans):
    aikpi.configure(trust_inbound_baggage=True)
    with aikpi.continue_from({"baggage": FORGED}), aikpi.step("trusting") as s:
        pass
    assert s.correlation_id == "FORGED-1"
    aikpi.configure(trust_inbound_baggage=False)
    with aikpi.continue_from({"baggage": FORGED}), aikpi.step("wary") as s:
        pass
    assert s.correlation_id != "FORGED-1"


def test_internal_trust_covers_only_the_values_it_vouched_for(aikpi_spans):
    # a header extracted later inside an internal block (by a library, say) is checked afresh
    internal = {"baggage": "aikpi.correlation_id=INNER-OK,aikpi.workflow.name=etl"}
    with aikpi.continue_from(internal, internal=True):
        nested = propagate.extract({"baggage": FORGED})
        token = otel_context.attach(nested)
        try:
            with aikpi.step("nested") as s:
                pass
        finally:
            otel_context.detach(token)
        with aikpi.step("outer") as outer:
            pass
    assert s.correlation_id not in ("FORGED-1", "INNER-OK")
    assert outer.correlation_id == "INNER-OK"


def test_web_framework_extraction_in_process_is_checked_too(aikpi_spans, caplog):
    library = aikpi_spans.tracer("http.client")
    token = otel_context.attach(propagate.extract({"baggage": FORGED}))
    try:
        for _ in range(3):
            with library.start_as_current_span("GET"):
                pass
        with aikpi.step("handler") as s:
            pass
    finally:
        otel_context.detach(token)
    assert s.correlation_id != "FORGED-1"
    for span in aikpi_spans.named("GET"):
        assert not any(key.startswith("aikpi.") for key in span.attributes)
    assert len([r for r in caplog.records if UNTRUSTED_LOG in r.getMessage()]) == 1


def test_signature_is_hmac_sha256_of_the_canonical_values(aikpi_spans, monkeypatch):
    use_key(monkeypatch, "k")
    with aikpi.workflow("w", correlation_id="C", team="t"), aikpi.step("s"):
        entries = dict(baggage.get_all())
    text = (
        b"aikpi-baggage-v1\n"
        + json.dumps(["C", "w", "s", "ai_assisted", "t"], separators=(",", ":")).encode()
    )
    tag = hmac.new(b"k", text, hashlib.sha256).digest()
    expected = "v1." + base64.urlsafe_b64encode(tag).rstrip(b"=").decode()
    assert entries[semconv.BAGGAGE_SIGNATURE] == expected
    # no key: no signature, also not one inherited from upstream
    use_key(monkeypatch, None)
    token = otel_context.attach(baggage.set_baggage(semconv.BAGGAGE_SIGNATURE, expected))
    try:
        with aikpi.step("unsigned"):
            assert semconv.BAGGAGE_SIGNATURE not in baggage.get_all()
    finally:
        otel_context.detach(token)


def test_switch_off_removes_the_signature_too(monkeypatch):
    from aikpi.testing import capture_spans

    monkeypatch.setenv("AIKPI_TOKEN_KEY", "k")
    with capture_spans(propagate_baggage=False), aikpi.step("quiet"):
        auto: dict[str, str] = {}
        propagate.inject(auto)
        explicit: dict[str, str] = {}
        aikpi.inject(explicit)
    assert "baggage" not in auto
    assert "aikpi.signature=v1." in explicit["baggage"]


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_internal_and_trust_switches_are_bools(bad):
    with pytest.raises(ValueError, match="internal must be True or False"):
        aikpi.extract({}, internal=bad)
    if bad is not None:
        with pytest.raises(ValueError, match="trust_inbound_baggage must be True or False"):
            aikpi.configure(trust_inbound_baggage=bad)


def test_unknown_trust_word_in_environment_is_warned_and_off(monkeypatch, caplog):
    from aikpi import testing

    caplog.set_level(logging.WARNING, logger="aikpi")
    monkeypatch.setenv("AIKPI_TRUST_INBOUND_BAGGAGE", "maybe")
    testing.reset()
    try:
        from aikpi._state import state

        assert state.trust_inbound_baggage is False
        assert any("AIKPI_TRUST_INBOUND_BAGGAGE" in r.getMessage() for r in caplog.records)
    finally:
        monkeypatch.delenv("AIKPI_TRUST_INBOUND_BAGGAGE")
        testing.reset()
