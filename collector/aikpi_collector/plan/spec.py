"""The pilot plan: success criteria written before the pilot, validated with readable errors.

A plan names one primary KPI with the change that counts as success (``target``), guardrail
KPIs that must not get worse than a ``margin`` (non-inferiority), the test's ``alpha`` and
``power``, the pilot's dates and its total cost of ownership. Every value is checked when the
file is read, so a plan that could never be judged (a KPI without a confidence interval, a
target pointing the wrong way, pp on a time) is refused before the pilot starts, not after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aikpi_collector.catalogue import Better, Kpi, KpiKind, kpi
from aikpi_collector.yamlfile import check_name, check_workflow_names, read_yaml_mapping

__all__ = (
    "CRITERION_KPIS",
    "KPI_VOCABULARY",
    "Costs",
    "Criterion",
    "Guardrail",
    "Period",
    "Plan",
    "PlanError",
    "Primary",
    "Role",
    "Threshold",
    "ThresholdUnit",
    "load_plan",
    "parse_plan",
    "parse_threshold",
)

KPI_VOCABULARY: tuple[str, ...] = (
    "human_time_per_step",
    "cycle_time",
    "step_time",
    "acceptance_rate",
    "clean_acceptance_rate",
    "override_rate",
    "repair_rate",
    "escalation_rate",
    "rejection_rate",
    "step_error_rate",
    "reopen_rate",
    "completion_rate",
    "correction_time_per_step",
    "cost_per_completed_run",
    "cost_per_accepted_outcome",
    "policy_violations_per_1000",
)
"""The design's plan vocabulary; each name is a :data:`~aikpi_collector.catalogue.KPIS` entry."""

_JUDGED_KINDS = (KpiKind.MEAN, KpiKind.PROPORTION, KpiKind.RATE)


def _why_not_judged(item: Kpi) -> str | None:
    """Why a vocabulary KPI cannot be a criterion, or None when it can."""
    if item.ai_only:
        return (
            f"{item.name} is AI-only (a baseline cohort has no AI output to judge), "
            "so it has no AI-vs-baseline effect"
        )
    if item.kind not in _JUDGED_KINDS:
        return (
            f"{item.name} is a ratio of totals whose per-unit spread the metrics do not keep, "
            "so it has no confidence interval and could never pass; its cost is judged "
            "through the plan's costs (net gain) instead"
        )
    return None


CRITERION_KPIS: tuple[str, ...] = tuple(
    name for name in KPI_VOCABULARY if _why_not_judged(kpi(name)) is None
)
"""The vocabulary KPIs a criterion may name: those with an AI-vs-baseline confidence interval."""

_THRESHOLD = re.compile(r"^(?P<sign>[+-])?\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>%|pp)$")
_EXAMPLE_PERIOD = "2026-10-01/2026-10-31"
_PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})$")


class Role(StrEnum):
    """What a criterion is for."""

    PRIMARY = "primary"
    GUARDRAIL = "guardrail"


class ThresholdUnit(StrEnum):
    """How a target or margin compares AI with baseline."""

    RELATIVE = "relative"
    """AI / baseline - 1 (``-10%`` is -0.10)."""
    PP = "pp"
    """AI - baseline of a proportion, in percentage points (``+2pp`` is 0.02)."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """A target or margin as written (``-10%``, ``2pp``): signed value and unit."""

    value: float
    """The fraction: ``-10%`` -> -0.10, ``2pp`` -> 0.02."""
    unit: ThresholdUnit
    signed: bool
    """Whether the text carried an explicit ``+`` or ``-``."""
    text: str

    def __str__(self) -> str:
        return self.text


def parse_threshold(text: Any) -> Threshold:
    """Parse ``-10%``, ``20%``, ``+2pp`` or ``1pp``; a bare number is refused (no unit)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(
            f"{text!r} has no unit: write a relative change like -10% or 20%, or "
            "percentage points like +2pp (proportions only)"
        )
    match = _THRESHOLD.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a change like -10%, 20%, +2pp or 1pp")
    value = float(match["number"]) / 100.0
    if match["sign"] == "-":
        value = -value
    unit = ThresholdUnit.PP if match["unit"] == "pp" else ThresholdUnit.RELATIVE
    return Threshold(value, unit, match["sign"] is not None, text.strip())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _criterion_kpi(name: Any) -> Kpi:
    allowed = ", ".join(CRITERION_KPIS)
    if not isinstance(name, str) or name not in KPI_VOCABULARY:
        raise ValueError(f"unknown KPI {name!r}; allowed: {allowed}")
    item = kpi(name)
    reason = _why_not_judged(item)
    if reason is not None:
        raise ValueError(f"{reason}; allowed: {allowed}")
    return item


def _threshold_for(raw: Any, info: ValidationInfo, key: str) -> Threshold:
    """Parse a target or margin and check it fits its KPI (unit and direction)."""
    threshold = parse_threshold(raw)
    name = info.data.get("kpi")
    if name is None:  # the KPI itself was refused; that error is reported already
        return threshold
    item = kpi(name)
    if threshold.unit is ThresholdUnit.PP and item.kind is not KpiKind.PROPORTION:
        raise ValueError(
            f"{threshold.text}: percentage points are only for proportions, and {name} is a "
            f"{item.kind.value}; write a relative change like 10%"
        )
    if threshold.value == 0:
        raise ValueError(f"{key} must not be 0: no sample size can detect a change of 0")
    if threshold.unit is ThresholdUnit.PP and abs(threshold.value) >= 1:
        raise ValueError(f"{threshold.text} is not within (-100pp, 100pp)")
    if threshold.unit is ThresholdUnit.RELATIVE and threshold.value <= -1:
        raise ValueError(f"{threshold.text}: a KPI cannot fall by 100 % or more")
    better = "lower" if item.better is Better.LOWER else "higher"
    improving = -1.0 if item.better is Better.LOWER else 1.0
    if key == "target":
        size = "10%" if threshold.unit is ThresholdUnit.RELATIVE else "2pp"
        example = f"-{size}" if improving < 0 else f"+{size}"
        if not threshold.signed:
            raise ValueError(
                f"target {threshold.text} needs a sign: {name} is better {better}, so a "
                f"success target looks like {example}"
            )
        if threshold.value * improving < 0:
            raise ValueError(
                f"target {threshold.text} points the wrong way: {name} is better {better}, "
                f"so a success target looks like {example}"
            )
    elif threshold.signed and threshold.value * improving > 0:
        raise ValueError(
            f"margin {threshold.text} points the better way: a margin is how much worse "
            f"{name} (better {better}) may get; write it unsigned, e.g. "
            f"{threshold.text.lstrip('+-')}"
        )
    return threshold


class _Criterion(_Strict):
    kpi: str
    """A name from :data:`CRITERION_KPIS`."""
    samples_per_cohort: int | None = Field(default=None, gt=1)
    """Optional pre-registered sample size per cohort (from ``aikpi-collector plan``); when
    absent, the size is computed from the observed variance at each evaluation."""

    @field_validator("kpi", mode="before")
    @classmethod
    def _known(cls, value: Any) -> str:
        return _criterion_kpi(value).name

    @property
    def catalogue_kpi(self) -> Kpi:
        """The catalogue entry of :attr:`kpi`."""
        return kpi(self.kpi)


class Primary(_Criterion):
    """The primary criterion: the change AI vs baseline that counts as success."""

    target: Threshold

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any, info: ValidationInfo) -> Threshold:
        return _threshold_for(value, info, "target")

    @property
    def role(self) -> Role:
        """Always :attr:`Role.PRIMARY`."""
        return Role.PRIMARY

    @property
    def threshold(self) -> Threshold:
        """The target."""
        return self.target

    @property
    def limit(self) -> float:
        """The target as a signed effect (AI vs baseline) in its unit."""
        return self.target.value


class Guardrail(_Criterion):
    """A guardrail: the KPI must not get worse than ``margin`` (non-inferiority)."""

    margin: Threshold

    @field_validator("margin", mode="before")
    @classmethod
    def _margin(cls, value: Any, info: ValidationInfo) -> Threshold:
        return _threshold_for(value, info, "margin")

    @property
    def role(self) -> Role:
        """Always :attr:`Role.GUARDRAIL`."""
        return Role.GUARDRAIL

    @property
    def threshold(self) -> Threshold:
        """The margin."""
        return self.margin

    @property
    def limit(self) -> float:
        """The worst acceptable effect, signed in the KPI's worse direction."""
        size = abs(self.margin.value)
        return size if self.catalogue_kpi.better is Better.LOWER else -size


Criterion = Primary | Guardrail


class Period(_Strict):
    """Calendar days ``START/END``, both included (2026-10-01/2026-10-31 is 31 days)."""

    start: date
    end: date

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _PERIOD.match(value.strip())
            if not match:
                raise ValueError(f"{value!r} is not a period START/END like {_EXAMPLE_PERIOD}")
            try:
                return {"start": date.fromisoformat(match[1]), "end": date.fromisoformat(match[2])}
            except ValueError as exc:
                raise ValueError(f"{value!r} holds an invalid date: {exc}") from None
        if isinstance(value, dict):
            return value
        raise ValueError(f"{str(value)!r} is not a period START/END like {_EXAMPLE_PERIOD}")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def days(self) -> int:
        """Number of days, both ends included."""
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


class Costs(_Strict):
    """Total cost of ownership charged to the AI cohort (pro-rated per day)."""

    per_month_usd: Decimal = Field(default=Decimal(0), ge=0, allow_inf_nan=False)
    """Licences, hosting: a month is 30 days."""
    one_off_usd: Decimal = Field(default=Decimal(0), ge=0, allow_inf_nan=False)
    """Integration, training: spread over ``amortise_months``."""
    amortise_months: int | None = Field(default=None, gt=0)
    supervision_hours_per_week: Decimal = Field(default=Decimal(0), ge=0, le=168)
    """People's time watching the AI, priced at the default labour rate (a week is 7 days)."""

    @model_validator(mode="after")
    def _amortised(self) -> Costs:
        if self.one_off_usd > 0 and self.amortise_months is None:
            raise ValueError(
                "amortise_months: required with one_off_usd (the months it is spread over)"
            )
        return self


class Plan(_Strict):
    """A whole plan file (``version: 1``)."""

    version: Literal[1]
    name: str
    workflows: tuple[str, ...] = ()
    """Only these workflows (empty: every workflow in the data)."""
    alpha: float = 0.05
    """Two-sided error rate of every confidence interval (0.05: 95 % intervals)."""
    power: float = 0.8
    """Chance of detecting a true effect the size of the target (sample sizes)."""
    min_samples_per_cohort: int = 30
    """Below this many samples in either cohort a criterion is inconclusive."""
    primary: Primary
    guardrails: tuple[Guardrail, ...] = ()
    costs: Costs = Field(default_factory=Costs)
    pilot_period: Period
    """The days the costs are charged for."""
    baseline_period: Period | None = None
    """Optional pre-pilot window (a before/after comparison)."""

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, value: float) -> float:
        if not 0 < value < 0.5:
            raise ValueError(f"must be within (0, 0.5), e.g. 0.05 for 95 % intervals; got {value}")
        return value

    @field_validator("power")
    @classmethod
    def _power(cls, value: float) -> float:
        if not 0.5 <= value < 1:
            raise ValueError(f"must be within [0.5, 1), e.g. 0.8; got {value}")
        return value

    @field_validator("min_samples_per_cohort")
    @classmethod
    def _min_samples(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"must be at least 2 (a variance needs two samples); got {value}")
        return value

    _name = field_validator("name")(lambda value: check_name(value))

    @field_validator("workflows")
    @classmethod
    def _workflow_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_workflow_names(value)
        if len(set(value)) != len(value):
            raise ValueError("lists a workflow twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        names = [self.primary.kpi, *(g.kpi for g in self.guardrails)]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"guardrails: {', '.join(twice)} is judged twice (one criterion each)")
        if self.baseline_period is not None and self.baseline_period.end >= self.pilot_period.start:
            raise ValueError(
                f"baseline_period: {self.baseline_period} must end before pilot_period "
                f"{self.pilot_period} starts"
            )
        return self

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """The primary, then the guardrails, in file order."""
        return (self.primary, *self.guardrails)


class PlanError(ValueError):
    """The plan file is invalid; the message names each bad key and what is allowed."""


_KEYS = {key for model in (Plan, Costs, Primary, Guardrail) for key in model.model_fields}
_KEYED = re.compile(r"^(?P<key>[a-z_]+): (?P<rest>.*)$", re.DOTALL)


def _describe(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        keyed = _KEYED.match(message)
        if keyed and keyed["key"] in _KEYS:  # a cross-field check names the key it is about
            loc.append(keyed["key"])
            message = keyed["rest"]
        key = ".".join(loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "literal_error" and key == "version":
            message = "must be 1 (the only plan format so far)"
        lines.append(f"{key}: {message}")
    return f"invalid pilot plan {source}:\n  " + "\n  ".join(lines)


def parse_plan(data: dict[str, Any], source: str = "<plan>") -> Plan:
    """Validate a plan mapping; raise :class:`PlanError` naming every bad key."""
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_describe(source, exc)) from exc


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; raise :class:`PlanError` with readable reasons."""
    return parse_plan(read_yaml_mapping(path, "pilot plan", PlanError), str(path))
