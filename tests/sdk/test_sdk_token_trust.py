"""Outcome tokens: no forged review time, only signed tokens with a key, a warning without
one, and the late outcome in the step's own trace so the collector counts one decision per
step however many processes record the same token."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import warnings

import aikpi
import pytest
from aikpi import _tokens, semconv
from test_sdk_processes import child_env, run_child

DAY = 24 * 3600.0
TRACE_HEX = "0af7651916cd43dd8448eb211c80319c"


def checksummed(end_ns: int, step: str = "forged") -> str:
    """An unsigned token built from scratch, as anyone can without the key."""
    span_hex = os.urandom(8).hex()  # each forged token names its own step
    fields = ["s", "C-1", "support", step, "ai_assisted", None, TRACE_HEX, span_hex, end_ns]
    body = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    tag = hashlib.sha256(f"ak1c.{body}".encode()).digest()[:16]
    return f"ak1c.{body}.{base64.urlsafe_b64encode(tag).rstrip(b'=').decode()}"


def review_of(aikpi_spans, step: str = "forged") -> float:
    return aikpi_spans.one(f"outcome {step}").attributes[semconv.REVIEW_SECONDS]


def test_review_time_from_an_ancient_end_time_is_clamped_to_30_days(aikpi_spans, caplog):
    aikpi.record_outcome(checksummed(end_ns=1), "accepted")  # 1970: 1.8e9 s ago
    assert review_of(aikpi_spans) == 30 * DAY
    assert any("review time clamped" in r.getMessage() for r in caplog.records)


def test_max_review_seconds_is_configurable(aikpi_spans):
    aikpi.configure(max_review_seconds=3600)
    aikpi.record_outcome(checksummed(end_ns=time.time_ns() - int(7200e9)), "edited")
    assert review_of(aikpi_spans) == 3600.0
    # a review time the caller states is not derived from the token: kept as given
    aikpi.record_outcome(checksummed(end_ns=1, step="stated"), "accepted", review_seconds=9000)
    assert review_of(aikpi_spans, "stated") == 9000.0


def test_max_review_seconds_from_the_environment_in_another_process():
    token = checksummed(end_ns=time.time_ns() - int(DAY * 1e9))
    (outcome,) = run_child(
        "outcome", token, "accepted", "0", env=child_env(AIKPI_MAX_REVIEW_SECONDS="120")
    )
    assert outcome["attributes"][semconv.REVIEW_SECONDS] == 120.0


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "1d", True])
def test_bad_max_review_seconds(bad):
    with pytest.raises(ValueError, match="max_review_seconds must be a finite number"):
        aikpi.configure(max_review_seconds=bad)


def test_end_time_in_the_future_is_refused_beyond_clock_skew(aikpi_spans):
    ahead = checksummed(end_ns=time.time_ns() + int(3600e9))
    with pytest.raises(aikpi.TokenError, match="in the future"):
        aikpi.record_outcome(ahead, "accepted")
    assert aikpi_spans.named("outcome forged") == []
    # within the allowance (host clocks differ slightly): accepted, review time 0
    aikpi.record_outcome(checksummed(end_ns=time.time_ns() + int(60e9)), "accepted")
    assert review_of(aikpi_spans) == 0.0


def test_with_a_key_only_signed_tokens_are_accepted(aikpi_spans, monkeypatch):
    monkeypatch.setenv("AIKPI_TOKEN_KEY", "secret")
    aikpi.configure()
    with pytest.raises(aikpi.TokenError, match="only signed tokens count") as refused:
        aikpi.record_outcome(checksummed(end_ns=time.time_ns()), "accepted")
    assert isinstance(refused.value, ValueError)  # the documented misuse error, refined
    with aikpi.step("real") as s:
        token = s.token()
    aikpi.record_outcome(token, "accepted")
    assert aikpi_spans.one("outcome real").attributes[semconv.OUTCOME] == "accepted"


def test_token_warns_once_without_a_key(aikpi_spans, monkeypatch):
    monkeypatch.setattr(_tokens, "_warned_unsigned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aikpi.workflow("w") as run:
            for _ in range(3):
                with aikpi.step("draft") as s:
                    s.token()
            run.token()
    unsigned = [w for w in caught if issubclass(w.category, aikpi.UnsignedTokenWarning)]
    assert len(unsigned) == 1
    assert "AIKPI_TOKEN_KEY is not set" in str(unsigned[0].message)
    assert unsigned[0].filename == __file__  # points at the line that made the token


def test_no_warning_with_a_key(aikpi_spans, monkeypatch):
    monkeypatch.setattr(_tokens, "_warned_unsigned", False)
    monkeypatch.setenv("AIKPI_TOKEN_KEY", "secret")
    aikpi.configure()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aikpi.step("draft") as s:
            assert s.token().startswith("ak1h.")
    assert not [w for w in caught if issubclass(w.category, aikpi.UnsignedTokenWarning)]


def test_late_outcome_is_a_child_of_the_step_span_in_its_trace(aikpi_spans):
    with aikpi.workflow("triage", correlation_id="INC-1"), aikpi.step("diagnose") as s:
        pass
    token = s.token()
    # decided inside another workflow: the outcome still joins the step's trace, not this one
    with aikpi.workflow("review-queue"), aikpi.step("decide"):
        aikpi.record_outcome(token, "accepted")
    step_span = aikpi_spans.one("step diagnose")
    outcome = aikpi_spans.one("outcome diagnose")
    assert outcome.context.trace_id == step_span.context.trace_id
    assert outcome.parent is not None
    assert outcome.parent.span_id == step_span.context.span_id
    assert outcome.parent.trace_id == step_span.context.trace_id
    assert outcome.parent.is_remote
    (link,) = outcome.links  # the link stays, for back ends that follow links
    assert link.context.span_id == step_span.context.span_id
    decide = aikpi_spans.one("step decide")
    assert outcome.context.trace_id != decide.context.trace_id


def test_outcome_after_the_step_through_its_handle_is_parented_too(aikpi_spans):
    with aikpi.step("answer") as s:
        pass
    s.outcome("rejected")
    step_span = aikpi_spans.one("step answer")
    outcome = aikpi_spans.one("outcome answer")
    assert outcome.parent.span_id == step_span.context.span_id
    assert outcome.context.trace_id == step_span.context.trace_id


def test_one_token_recorded_in_three_processes_names_one_step(aikpi_spans):
    with aikpi.workflow("refund", correlation_id="ORDER-1"), aikpi.step("draft-refund") as s:
        token = s.token()
    step_span = aikpi_spans.one("step draft-refund")
    outcomes = [run_child("outcome", token, "accepted", "1")[0] for _ in range(3)]
    # every copy carries the same (trace id, parent span id): the collector's decision key
    keys = {(o["trace_id"], o["parent_span_id"]) for o in outcomes}
    assert keys == {(f"{step_span.context.trace_id:032x}", f"{step_span.context.span_id:016x}")}
    assert len({o["span_id"] for o in outcomes}) == 3  # three spans, one decision


def test_same_step_twice_in_one_process_still_raises_at_once(aikpi_spans):
    with aikpi.step("once") as s:
        token = s.token()
    aikpi.record_outcome(token, "accepted")
    with pytest.raises(ValueError, match="decided once"):
        aikpi.record_outcome(token, "edited")
    assert len(aikpi_spans.named("outcome once")) == 1


def test_a_key_given_to_configure_signs_and_checks_tokens(aikpi_spans):
    aikpi.configure(token_key="a-shared-key")
    with aikpi.workflow("support", cohort="ai_assisted"), aikpi.step("draft") as step:
        token = step.token()
    assert token.startswith("ak1h."), token  # signed (HMAC), not merely checksummed
    with pytest.raises(aikpi.TokenError):  # with a key, an unsigned token is refused
        aikpi.record_outcome(checksummed(end_ns=time.time_ns()), "accepted")
    aikpi.record_outcome(token, "accepted")
    assert aikpi_spans.one("outcome draft").attributes[semconv.OUTCOME] == "accepted"


@pytest.mark.parametrize("bad", ["", b"bytes", 42])
def test_a_bad_token_key_is_refused(bad):
    with pytest.raises(ValueError, match="token_key"):
        aikpi.configure(token_key=bad)


def test_a_human_only_step_has_no_token_to_decide_later(aikpi_spans):
    # its duration is its human time: a late decision would count human time twice
    with (
        aikpi.workflow("support", cohort="ai_assisted"),
        aikpi.step("send", assisted=False) as step,
        pytest.raises(ValueError) as caught,
    ):
        step.token()
    assert "assisted=False" in str(caught.value) and "outcome()" in str(caught.value)
