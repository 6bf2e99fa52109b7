"""What happens at the edges of a scope, so counts cannot drift: a raise wins over
complete(), usage after its LLM call ended is refused, and a nested workflow has no current
step of its own until one opens."""

from __future__ import annotations

import aikpi
import pytest
from aikpi import semconv


@pytest.mark.parametrize("decide", ["complete", "abandon"])
def test_a_run_that_raises_is_failed_even_after_deciding(aikpi_spans, decide):
    with pytest.raises(RuntimeError), aikpi.workflow("triage") as run:
        getattr(run, decide)()
        raise RuntimeError("crash after the decision")
    span = aikpi_spans.one("workflow triage")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "failed"


def test_usage_or_cost_after_the_llm_call_ended_is_refused(aikpi_spans):
    with aikpi.step("draft") as s, s.llm_call("gpt-4o") as call:
        call.record_usage(10, 5)
    with pytest.raises(ValueError, match=r"inside the `with step\.llm_call"):
        call.record_usage(1, 1)
    with pytest.raises(ValueError, match=r"inside the `with step\.llm_call"):
        call.record_cost(0.5)
    attributes = aikpi_spans.one("chat gpt-4o").attributes
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert semconv.COST_USD not in attributes


def test_nested_workflow_has_no_current_step_until_one_opens(aikpi_spans):
    with aikpi.workflow("outer"), aikpi.step("plan") as outer_step:
        with aikpi.workflow("inner"):
            assert aikpi.current_step() is None
            with aikpi.step("act") as inner_step:
                assert aikpi.current_step() is inner_step
        assert aikpi.current_step() is outer_step
