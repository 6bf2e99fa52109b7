"""Real second processes: late outcomes from tokens, W3C continuation, the OTLP pipeline.

The child (``sdk_child_program.py``) is a separate Python interpreter using the public API;
it prints what it recorded as JSON, or exports through the real OTLP/HTTP exporter to a real
receiver, and the parent compares trace ids, correlation ids, dimensions and links exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aikpi
import pytest
from aikpi import semconv
from sdk_otlp_receiver import otlp_receiver
from support.net import free_port

CHILD = str(Path(__file__).with_name("sdk_child_program.py"))
DIM_KEYS = semconv.BAGGAGE_KEYS


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIKPI_"))}
    env.update(extra)
    return env


def run_child(*args: str, env: dict[str, str] | None = None, check: bool = True) -> Any:
    proc = subprocess.run(
        [sys.executable, CHILD, *args],
        env=env if env is not None else child_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    if not check:
        return proc
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_late_outcome_recorded_in_another_process(aikpi_spans):
    refund = aikpi.workflow("refund", correlation_id="ORDER-991", cohort="baseline", team="billing")
    with refund, aikpi.step("draft-refund") as s:
        pass
    step_span = aikpi_spans.one("step draft-refund")

    (outcome,) = run_child("outcome", s.token(), "edited", "42.5")

    assert outcome["name"] == "outcome draft-refund"
    attributes = outcome["attributes"]
    assert attributes[semconv.SPAN_TYPE] == "outcome"
    assert attributes[semconv.OUTCOME] == "edited"
    assert attributes[semconv.CORRECTION_SECONDS] == 42.5
    assert attributes[semconv.REVIEW_SECONDS] > 0
    for key in DIM_KEYS:
        assert attributes[key] == step_span.attributes[key]
    assert attributes[semconv.CORRELATION_ID] == "ORDER-991"
    assert outcome["links"] == [
        {
            "trace_id": f"{step_span.context.trace_id:032x}",
            "span_id": f"{step_span.context.span_id:016x}",
        }
    ]
    assert outcome["events"] == [
        {
            "name": semconv.GEN_AI_EVALUATION_RESULT,
            "attributes": {
                semconv.GEN_AI_EVALUATION_NAME: "aikpi.outcome",
                semconv.GEN_AI_EVALUATION_SCORE_LABEL: "edited",
            },
        }
    ]


def test_reopen_in_another_process(aikpi_spans):
    with aikpi.workflow("ticket", correlation_id="T-100") as run:
        pass
    workflow_span = aikpi_spans.one("workflow ticket")
    (event,) = run_child("reopen", run.token())
    assert event["attributes"][semconv.WORKFLOW_EVENT] == "reopened"
    assert event["attributes"][semconv.CORRELATION_ID] == "T-100"
    assert event["links"][0]["span_id"] == f"{workflow_span.context.span_id:016x}"


def test_signed_token_needs_the_key_in_the_other_process(aikpi_spans, monkeypatch):
    monkeypatch.setenv("AIKPI_TOKEN_KEY", "shared-secret")
    aikpi.configure()  # the key is read when aikpi is configured
    with aikpi.step("signed-step") as s:
        pass
    token = s.token()
    without_key = run_child("outcome", token, "accepted", "0", check=False)
    assert without_key.returncode != 0
    assert "set AIKPI_TOKEN_KEY" in without_key.stderr
    wrong_key = run_child(
        "outcome", token, "accepted", "0", env=child_env(AIKPI_TOKEN_KEY="other"), check=False
    )
    assert "signature does not match" in wrong_key.stderr
    (outcome,) = run_child(
        "outcome", token, "accepted", "0", env=child_env(AIKPI_TOKEN_KEY="shared-secret")
    )
    assert outcome["attributes"][semconv.OUTCOME] == "accepted"


def test_workflow_continues_from_w3c_headers_in_another_process(aikpi_spans):
    headers: dict[str, str] = {}
    handoff = aikpi.workflow("handoff", correlation_id="PR-7", cohort="baseline", team="platform")
    with handoff, aikpi.step("upstream") as up:
        aikpi.inject(headers)
    up_span = aikpi_spans.one("step upstream")

    spans = {span["name"]: span for span in run_child("continue", json.dumps(headers), "internal")}

    downstream = spans["step downstream"]
    library = spans["library call"]
    trace_id = f"{up_span.context.trace_id:032x}"
    assert downstream["trace_id"] == trace_id
    assert library["trace_id"] == trace_id
    assert downstream["parent_span_id"] == f"{up_span.context.span_id:016x}"
    assert library["parent_span_id"] == downstream["span_id"]
    expected_dims = {
        semconv.CORRELATION_ID: "PR-7",
        semconv.WORKFLOW_NAME: "handoff",
        semconv.STEP_NAME: "downstream",
        semconv.COHORT: "baseline",
        semconv.TEAM: "platform",
    }
    assert {k: downstream["attributes"][k] for k in DIM_KEYS} == expected_dims
    assert {k: library["attributes"][k] for k in DIM_KEYS} == expected_dims
    assert downstream["attributes"][semconv.OUTCOME] == "edited"
    assert up.correlation_id == "PR-7"


EXPECTED_RESULT = {
    "double": 42,
    "count": [0, 1, 2, 3],
    "later": "cba",
    "error": "as designed",
    "token_ok": True,
}


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_configure_builds_otlp_pipeline_from_environment(variable):
    with otlp_receiver() as (endpoint, received):
        if variable.endswith("TRACES_ENDPOINT"):
            endpoint += "/v1/traces"  # the signal-specific variable is the full URL
        env = child_env(
            **{variable: endpoint},
            OTEL_SERVICE_NAME="billing-agent",
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=ci,team=payments",
        )
        out = run_child("global", env=env)
        assert out["result"] == EXPECTED_RESULT
        # the child has exited, so its batch was flushed at shutdown
        spans = received.wait_for(7)
    by_name = {span["name"]: span for span in spans}
    assert len(spans) == 7
    assert set(by_name) == {
        "workflow child-work",
        "step double",
        "step count",
        "step later",
        "step explode",
        "step decide",
        "library work",
    }
    resource = by_name["workflow child-work"]["resource"]
    assert resource["service.name"] == "billing-agent"
    assert resource["deployment.environment"] == "ci"
    assert resource["team"] == "payments"
    assert by_name["step double"]["scope"] == "aikpi"
    library = by_name["library work"]["attributes"]
    workflow = by_name["workflow child-work"]["attributes"]
    assert library[semconv.CORRELATION_ID] == workflow[semconv.CORRELATION_ID]
    assert library[semconv.WORKFLOW_NAME] == "child-work"
    assert by_name["step decide"]["attributes"][semconv.OUTCOME] == "accepted"
    assert len({span["trace_id"] for span in spans}) == 1


def test_explicit_endpoint_argument_beats_environment():
    with otlp_receiver() as (endpoint, received):
        code = (
            "import aikpi\n"
            f"aikpi.configure(service_name='explicit', endpoint='{endpoint}')\n"
            "with aikpi.step('s'):\n    pass\n"
        )
        env = child_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
            OTEL_SERVICE_NAME="from-env",
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=90
        )
        assert proc.returncode == 0, proc.stderr
        (span,) = received.wait_for(1)
    assert span["name"] == "step s"
    assert span["resource"]["service.name"] == "explicit"


def test_configure_never_replaces_the_applications_provider():
    out = run_child("app-provider")
    assert out["same_provider"] is True
    assert out["global_kept"] is True
    assert out["result"] == EXPECTED_RESULT
    spans = {span["name"]: span for span in out["spans"]}
    library = spans["library work"]["attributes"]
    assert library[semconv.WORKFLOW_NAME] == "child-work"  # stamping was added to it
    assert spans["step explode"]["status"] == "ERROR"


@pytest.mark.parametrize("mode", ["closed-port", "unconfigured"])
def test_wrapped_code_unchanged_with_collector_down_or_no_configuration(mode):
    args = [mode]
    if mode == "closed-port":
        args.append(f"http://127.0.0.1:{free_port()}")
    # a short export timeout only bounds how long the exit-time flush may try
    out = run_child(*args, env=child_env(OTEL_EXPORTER_OTLP_TIMEOUT="2"))
    assert out["result"] == EXPECTED_RESULT
