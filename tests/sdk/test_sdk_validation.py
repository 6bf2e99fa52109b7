"""Misuse fails at once with a ValueError naming what is allowed."""

from __future__ import annotations

import math

import aikpi
import pytest
from aikpi.semconv import MAX_NAME_LENGTH

OUTCOME_LIST = "accepted, edited, overridden, escalated, rejected"
BAD_NUMBERS = [-1, -0.5, math.nan, math.inf, -math.inf, "3", True, None]


@pytest.mark.parametrize("word", ["approved", "ACCEPTED", "", 1, None])
def test_unknown_outcome_word_lists_the_five(aikpi_spans, word):
    with aikpi.step("s") as s:
        with pytest.raises(ValueError) as caught:
            s.outcome(word)
        assert OUTCOME_LIST in str(caught.value)
        token = s.token()
    with pytest.raises(ValueError, match=OUTCOME_LIST):
        aikpi.record_outcome(token, word)


def test_enum_and_plain_string_outcomes_both_accepted(aikpi_spans):
    with aikpi.step("a") as a:
        a.outcome(aikpi.Outcome.ESCALATED)
    with aikpi.step("b") as b:
        b.outcome("escalated")
    assert [s.attributes["aikpi.outcome"] for s in aikpi_spans.spans] == ["escalated"] * 2


@pytest.mark.parametrize("bad", ["treatment", "AI", "", 3])
def test_unknown_cohort(bad):
    with pytest.raises(ValueError, match="allowed cohorts: ai_assisted, baseline"):
        aikpi.workflow("w", cohort=bad)
    with pytest.raises(ValueError, match="allowed cohorts: ai_assisted, baseline"):
        aikpi.step("s", cohort=bad)


@pytest.mark.parametrize("value", [-1, -0.001, math.nan, math.inf, -math.inf, "5", True])
def test_bad_seconds(aikpi_spans, value):
    with aikpi.step("s") as s:
        with pytest.raises(ValueError, match="correction_seconds"):
            s.outcome("edited", correction_seconds=value)
        with pytest.raises(ValueError, match="review_seconds"):
            s.outcome("edited", review_seconds=value)
        token = s.token()
        s.outcome("edited", correction_seconds=0, review_seconds=1.5)  # still decidable
    with pytest.raises(ValueError, match="correction_seconds"):
        aikpi.record_outcome(token, "edited", correction_seconds=value)


@pytest.mark.parametrize("value", [-1, 1.5, math.nan, "10", True, None])
def test_bad_token_counts(aikpi_spans, value):
    with aikpi.step("s") as s, s.llm_call("m") as call:
        for kwargs in (
            {"input_tokens": value, "output_tokens": 1},
            {"input_tokens": 1, "output_tokens": value},
            {"input_tokens": 5, "output_tokens": 1, "cache_read_tokens": value},
            {"input_tokens": 5, "output_tokens": 1, "cache_creation_tokens": value},
        ):
            with pytest.raises(ValueError, match="whole number >= 0"):
                call.record_usage(**kwargs)


def test_cached_tokens_cannot_exceed_input(aikpi_spans):
    with (
        aikpi.step("s") as s,
        s.llm_call("m") as call,
        pytest.raises(ValueError, match="includes the cached tokens"),
    ):
        call.record_usage(10, 1, cache_read_tokens=8, cache_creation_tokens=3)


@pytest.mark.parametrize("value", [-0.01, math.nan, math.inf, "0.1", True])
def test_bad_cost(aikpi_spans, value):
    with (
        aikpi.step("s") as s,
        s.llm_call("m") as call,
        pytest.raises(ValueError, match="cost usd must be"),
    ):
        call.record_cost(value)


def test_deciding_twice(aikpi_spans):
    with aikpi.step("inline") as s:
        s.outcome("accepted")
        with pytest.raises(ValueError, match="decided once"):
            s.outcome("rejected")
        token = s.token()
    with pytest.raises(ValueError, match="decided once"):
        aikpi.record_outcome(token, "rejected")  # inline then via token, same process

    with aikpi.step("late") as late:
        late_token = late.token()
    aikpi.record_outcome(late_token, "edited")
    with pytest.raises(ValueError, match="decided once"):
        aikpi.record_outcome(late_token, "accepted")
    with pytest.raises(ValueError, match="decided once"):
        late.outcome("accepted")  # token first, then the handle

    with aikpi.step("after-end") as ended:
        pass
    ended.outcome("accepted")
    with pytest.raises(ValueError, match="decided once"):
        ended.outcome("accepted")
    outcomes = [s.attributes.get("aikpi.outcome") for s in aikpi_spans.spans]
    assert outcomes.count("accepted") == 2 and outcomes.count("edited") == 1
    assert "rejected" not in outcomes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH}"),
        (42, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_bad_names(aikpi_spans, value, message):
    with pytest.raises(ValueError, match=message):
        aikpi.workflow(value)
    with pytest.raises(ValueError, match=message):
        aikpi.step(value)
    if value is not None:
        with pytest.raises(ValueError, match=message):
            aikpi.workflow("w", team=value)
        with pytest.raises(ValueError, match=message):
            aikpi.workflow("w", correlation_id=value)
        with pytest.raises(ValueError, match=message):
            aikpi.step("s", team=value)
    with aikpi.step("s") as s:
        with pytest.raises(ValueError, match=message):
            s.policy_violation(value)
        with pytest.raises(ValueError, match=message):
            s.llm_call(value)
    assert aikpi.step("x" * MAX_NAME_LENGTH)  # the limit itself is fine


def test_bare_decorator_without_name_is_explained():
    with pytest.raises(ValueError, match="step name must be a string"):

        @aikpi.step  # type: ignore[arg-type]
        def forgot_the_name() -> None:
            pass


def test_token_kind_mismatch(aikpi_spans):
    with aikpi.workflow("w") as run, aikpi.step("s") as s:
        step_token, run_token = s.token(), run.token()
    with pytest.raises(ValueError, match="needs a step token"):
        aikpi.record_outcome(run_token, "accepted")
    with pytest.raises(ValueError, match="needs a workflow token"):
        aikpi.reopen(step_token)


@pytest.mark.parametrize("share", [-0.1, 1.01, math.nan, math.inf, "0.5", True])
def test_bad_ai_share(share):
    with pytest.raises(ValueError, match="ai_share must be a number from 0 to 1"):
        aikpi.assign_cohort("unit", ai_share=share)


def test_bad_configure_arguments():
    with pytest.raises(ValueError, match="endpoint must be a URL"):
        aikpi.configure(endpoint="localhost")
    with pytest.raises(ValueError, match="service_name"):
        aikpi.configure(service_name="")
    with pytest.raises(ValueError, match="TracerProvider"):
        aikpi.configure(tracer_provider=object())  # type: ignore[arg-type]
