"""Ground truth of a simulated pilot, computed from its planned events only.

Shared by the tests that compare the report's KPIs (from /metrics or from Prometheus) with
what really happened; it uses none of the report's code.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

# The demo collector's configured per-team labour rates: an input, like the seed.
from aikpi_collector.demo.model import LABOR_RATES
from genai_prices import Usage, calc_price
from support.histograms import bucket_of

WORKFLOWS = ("support-reply", "code-review", "incident-triage")
BASELINE = "baseline"


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _duration(item) -> float:
    # The spans carry nanosecond times, as the simulated clock sets them.
    return (_ns(item.end) - _ns(item.start)) / 1e9


class Truth:
    """Every KPI input for one workflow (or all, ``None``) and cohort, from the events."""

    def __init__(self, runs, workflow: str | None, cohort: str) -> None:
        self.runs = [
            r for r in runs if r.cohort == cohort and (workflow is None or r.workflow == workflow)
        ]
        self.steps = [s for r in self.runs for s in r.steps]
        decided = [s for s in self.steps if s.outcome is not None]
        self.outcomes = Counter(s.outcome for s in decided)
        self.errors = sum(1 for s in self.steps if s.error)
        self.statuses = Counter(r.status for r in self.runs)
        self.reopened = sum(1 for r in self.runs if r.reopened)
        self.violations = sum(len(s.violations) for s in self.steps)
        self.corrections = [
            s.correction_seconds for s in decided if s.correction_seconds is not None
        ]
        self.reviews = [s.review_seconds for s in decided if s.review_seconds is not None]
        self.step_times = [_duration(s) for s in self.steps]
        self.run_times = [_duration(r) for r in self.runs]
        calls = [c for s in self.steps for c in s.llm_calls]
        self.tokens = Counter()
        self.cost = 0.0
        for c in calls:
            self.tokens["input"] += c.input_tokens - c.cache_read_tokens
            self.tokens["output"] += c.output_tokens
            self.tokens["cache_read"] += c.cache_read_tokens
            if c.cost_usd is not None:
                self.cost += c.cost_usd
            else:
                usage = Usage(
                    input_tokens=c.input_tokens,
                    output_tokens=c.output_tokens,
                    cache_read_tokens=c.cache_read_tokens,
                )
                self.cost += float(
                    calc_price(usage, model_ref=c.model, provider_id=c.provider).total_price
                )
        # human time, once per step: a person's step costs its duration (every baseline step,
        # a human-only step in an AI run); an AI step its decision's review + correction
        self.human_times: list[float] = []
        self.labor_cost = 0.0
        self.assisted = 0
        for run in self.runs:
            for step in run.steps:
                assisted = cohort != BASELINE and bool(step.llm_calls)
                self.assisted += assisted
                if not assisted:
                    seconds = _duration(step)
                elif step.outcome is not None:
                    seconds = (step.review_seconds or 0.0) + (step.correction_seconds or 0.0)
                else:
                    continue  # the AI step raised: no decision, no human time
                self.human_times.append(seconds)
                self.labor_cost += seconds / 3600 * LABOR_RATES[run.team]
        self.human_seconds = sum(self.human_times)
        # hours saved are priced at the AI cohort's team rates, weighted by steps
        self.priced_steps = sum(LABOR_RATES[r.team] / 3600 * len(r.steps) for r in self.runs)

    def rate(self, *words: str) -> float:
        total = sum(self.outcomes.values())
        return sum(self.outcomes[w] for w in words) / total


def assert_histogram(hist, values: list[float]) -> None:
    """Count, sum and every cumulative bucket exactly; p50/p90 inside the true bucket."""
    assert hist.count == len(values)
    assert hist.total == pytest.approx(sum(values), rel=1e-9, abs=1e-6)
    for bound, cumulative in zip(hist.bounds, hist.cumulative, strict=False):
        assert cumulative == sum(1 for x in values if x <= bound), bound
    ordered = sorted(values)
    for q in (0.5, 0.9):
        true_value = ordered[math.ceil(q * len(ordered)) - 1]
        low, high = bucket_of(hist.bounds, true_value)
        estimate = hist.quantile(q)
        assert low <= estimate <= high, (q, true_value, estimate)
