"""A deterministic pilot workload driven through the real aikpi SDK, with its ground truth.

The expected counts are computed here from what the workload does and the metric contract
(docs: "Metric catalogue", design "Human time"), independently of the collector, so tests can
compare exactly. Every run has steps with AI output and one step a person does alone (also in
AI-assisted runs); some outputs are decided inline, some later from a token (after the run, as
a reviewer would), and some never (assisted steps awaiting their outcome).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aikpi
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ("WORKFLOWS", "RoundRobinExporter", "Truth", "run_wave")

WORKFLOWS = {
    "incident-triage": ("classify", "draft-reply", "close-ticket"),
    "code-review": ("summarize", "suggest-fix", "approve-merge"),
}
HUMAN_ONLY = frozenset({"close-ticket", "approve-merge"})
"""Steps a person does without AI output, in both cohorts: their duration is human time."""
TEAMS = ("blue", None)  # None: the team label reads "none"
OK_WORDS = ("accepted", "accepted", "edited", "accepted")
BAD_WORDS = ("overridden", "escalated", "rejected")
PRICED = "gpt-4o-mini"
UNPRICED = "in-house-llm"


class RoundRobinExporter(SpanExporter):
    """Hands each export batch to the next exporter in turn, like a round-robin balancer."""

    def __init__(self, exporters: Sequence[SpanExporter]) -> None:
        self._exporters = list(exporters)
        self._next = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        exporter = self._exporters[self._next % len(self._exporters)]
        self._next += 1
        return exporter.export(spans)

    def shutdown(self) -> None:
        for exporter in self._exporters:
            exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(e.force_flush(timeout_millis) for e in self._exporters)


class Boom(RuntimeError):
    """Raised inside a step or workflow to make it fail on purpose."""


class Truth:
    """Expected metric values: ``counts[(metric, labels)]`` with labels as sorted tuples."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self.duration_is_human_time: set[frozenset[tuple[str, str]]] = set()
        """Step label sets whose human time is their duration (not assisted): their
        ``aikpi_human_seconds_sum`` equals their ``aikpi_step_duration_seconds_sum``."""

    def add(self, metric: str, value: float = 1, **labels: str) -> None:
        self.counts[(metric, tuple(sorted(labels.items())))] += value

    def by(self, metric: str) -> dict[frozenset[tuple[str, str]], float]:
        """Expected samples of one metric, keyed like ``PrometheusProcess.values``."""
        out: dict[frozenset[tuple[str, str]], float] = {}
        for (name, labels), value in self.counts.items():
            if name == metric:
                out[frozenset(labels)] = value
        return out

    def human_time_is_duration(self, labels: dict[str, str]) -> None:
        """One step observed once in ``aikpi_human_seconds`` with its own duration."""
        self.add("aikpi_human_seconds_count", **labels)
        self.duration_is_human_time.add(frozenset(labels.items()))


Pending = tuple[str, str, float | None, float, dict[str, str]]
"""A late decision: (token, outcome word, correction, review seconds, step labels)."""


def _decided(truth: Truth, labels: dict[str, str], word: str, correction, review) -> None:
    truth.add("aikpi_outcomes_total", **labels, outcome=word)
    truth.add("aikpi_review_seconds_count", **labels)
    truth.add("aikpi_review_seconds_sum", review, **labels)
    if correction is not None:
        truth.add("aikpi_correction_seconds_count", **labels)
        truth.add("aikpi_correction_seconds_sum", correction, **labels)
    if labels["cohort"] == "ai_assisted":  # an assisted step's human time: its decision
        truth.add("aikpi_human_seconds_count", **labels)
        truth.add("aikpi_human_seconds_sum", review + (correction or 0.0), **labels)


def _human_step(truth: Truth, dims: dict[str, str], name: str, declared: bool) -> None:
    """A step a person does alone: no model call, no outcome, no token. The SDK detects it
    (``aikpi.step.assisted = false``), or the step says so (``assisted=False``)."""
    labels = {**dims, "step": name}
    with aikpi.step(name, assisted=False if declared else None):
        pass
    truth.add("aikpi_steps_total", **labels, status="ok")
    truth.add("aikpi_step_duration_seconds_count", **labels)
    truth.human_time_is_duration(labels)


def _step(
    truth: Truth, rng: random.Random, dims: dict[str, str], name: str, ai: bool, bad_share: float
) -> Pending | None:
    """A step with output to decide on (AI output in the AI cohort); returns its late
    decision, if it is decided later."""
    labels = {**dims, "step": name}
    fail = rng.random() < 0.08
    late = rng.random() < 0.3
    undecided = late and rng.random() < 0.25
    violation = rng.random() < 0.15
    word = rng.choice(BAD_WORDS) if rng.random() < bad_share else rng.choice(OK_WORDS)
    correction = float(rng.randint(1, 600)) if word == "edited" else None
    review = float(rng.randint(5, 900))
    token = None
    try:
        with aikpi.step(name) as step:
            if ai:
                priced = rng.random() < 0.7
                model = PRICED if priced else UNPRICED
                with step.llm_call(model, provider="openai" if priced else "self-hosted") as call:
                    cache_read = rng.randint(0, 200)
                    inp = cache_read + rng.randint(1, 2000)
                    out = rng.randint(1, 800)
                    call.record_usage(inp, out, cache_read_tokens=cache_read)
                    truth.add(
                        "aikpi_tokens_total",
                        inp - cache_read,
                        **labels,
                        model=model,
                        token_type="input",
                    )
                    truth.add("aikpi_tokens_total", out, **labels, model=model, token_type="output")
                    if cache_read:
                        truth.add(
                            "aikpi_tokens_total",
                            cache_read,
                            **labels,
                            model=model,
                            token_type="cache_read",
                        )
                    cost = 0.0  # an unpriced model's call is counted with cost 0 (and reported)
                    if priced:
                        cost = rng.choice((0.25, 0.125, 0.5, 0.0625))  # exact in binary
                        call.record_cost(cost)
                    truth.add("aikpi_cost_usd_total", cost, **labels, model=model)
            if violation:
                step.policy_violation("pii-in-prompt")
                truth.add("aikpi_policy_violations_total", **labels, policy="pii-in-prompt")
            if not late:
                step.outcome(word, correction_seconds=correction, review_seconds=review)
            else:
                token = step.token()
            if fail:
                raise Boom("step failed on purpose")
    except Boom:
        pass
    truth.add("aikpi_steps_total", **labels, status="error" if fail else "ok")
    truth.add("aikpi_step_duration_seconds_count", **labels)
    if ai:
        truth.add("aikpi_assisted_steps_total", **labels)
    else:  # every baseline step costs its duration, decided or not
        truth.human_time_is_duration(labels)
    if undecided:
        return None  # the output awaits its decision: no outcome, no human time yet
    if token is not None:
        return (token, word, correction, review, labels)
    _decided(truth, labels, word, correction, review)
    return None


def run_wave(truth: Truth, seed: int, runs: int = 16) -> None:
    """``runs`` workflow runs of every kind; incident-triage's AI cohort burns its budget.

    Late decisions are recorded after their run ended, outside any span, as a reviewer
    working through a queue would."""
    rng = random.Random(seed)
    for index in range(runs):
        for workflow, steps in WORKFLOWS.items():
            cohort = "baseline" if index % 4 == 0 else "ai_assisted"
            team = TEAMS[index % 2]
            dims = {"workflow": workflow, "cohort": cohort, "team": team or "none"}
            ai = cohort == "ai_assisted"
            bad_share = 0.7 if (workflow == "incident-triage" and ai) else 0.03
            ending = rng.random()
            status = "completed"
            token = None
            queue: list[Pending] = []
            try:
                with aikpi.workflow(workflow, cohort=cohort, team=team) as run:
                    for name in steps:
                        if name in HUMAN_ONLY:
                            _human_step(truth, dims, name, declared=index % 3 == 0)
                        elif pending := _step(truth, rng, dims, name, ai, bad_share):
                            queue.append(pending)
                    token = run.token()
                    if ending < 0.1:
                        status = "abandoned"
                        run.abandon()
                    elif ending < 0.15:
                        status = "failed"
                        raise Boom("workflow failed on purpose")
            except Boom:
                pass
            truth.add("aikpi_workflows_total", **dims, status=status)
            truth.add("aikpi_workflow_duration_seconds_count", **dims)
            for step_token, word, correction, review, labels in queue:
                aikpi.record_outcome(
                    step_token, word, correction_seconds=correction, review_seconds=review
                )
                _decided(truth, labels, word, correction, review)
            if status == "completed" and rng.random() < 0.2:
                aikpi.reopen(token)
                truth.add("aikpi_workflows_total", **dims, status="reopened")
