"""The SLO spec: one YAML file, validated by pydantic, refused with the key and the reason.

The SLI is fixed by the project contract (per workflow, one cohort): eligible events are
outcomes plus failed steps; bad events are the chosen outcome words, failed steps and policy
violations. The spec chooses the objective, the period, which parts count as bad, per-workflow
objectives, the low-traffic guard and the alert windows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from aikpi.semconv import Cohort, Outcome
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aikpi_collector import catalogue as cat
from aikpi_collector.yamlfile import check_name, check_workflow_names, read_yaml_mapping

__all__ = (
    "SRE_WORKBOOK_WINDOWS",
    "AlertWindow",
    "Alerting",
    "LowTraffic",
    "SLOSpec",
    "Severity",
    "SpecError",
    "WorkflowObjective",
    "format_duration",
    "load_spec",
    "parse_duration",
)

Severity = Literal["page", "ticket"]

_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$"
)
_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> int:
    """Seconds in a Prometheus duration such as ``5m``, ``28d`` or ``1h30m`` (whole seconds)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or not text.strip():
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h, 28d or 1h30m")
    seconds = sum(int(match[unit]) * size for unit, size in _UNITS if match[unit])
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be > 0")
    return seconds


def format_duration(seconds: int) -> str:
    """The canonical Prometheus spelling of ``seconds`` (``90`` -> ``1m30s``, ``86400`` -> ``1d``).

    Weeks and years are not used, so a record name reads ``ratio_rate28d`` as Sloth's do.
    """
    parts = []
    for unit, size in _UNITS[2:]:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _canonical(value: Any) -> str:
    return format_duration(parse_duration(str(value)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertWindow(_Strict):
    """One multiwindow condition: both windows burn faster than ``burn_rate``."""

    severity: Severity
    burn_rate: float = Field(gt=0)
    long_window: str
    short_window: str

    _canon = field_validator("long_window", "short_window", mode="before")(
        lambda value: _canonical(value)
    )

    @model_validator(mode="after")
    def _short_is_shorter(self) -> AlertWindow:
        if parse_duration(self.short_window) >= parse_duration(self.long_window):
            raise ValueError(
                f"short_window {self.short_window} must be shorter than "
                f"long_window {self.long_window}"
            )
        return self


SRE_WORKBOOK_WINDOWS: tuple[AlertWindow, ...] = (
    AlertWindow(severity="page", burn_rate=14.4, long_window="1h", short_window="5m"),
    AlertWindow(severity="page", burn_rate=6, long_window="6h", short_window="30m"),
    AlertWindow(severity="ticket", burn_rate=3, long_window="1d", short_window="2h"),
    AlertWindow(severity="ticket", burn_rate=1, long_window="3d", short_window="6h"),
)
"""The Google SRE workbook set: 2 % / 5 % of the budget in 1h / 6h page, 10 % in 1d / 3d ticket."""


class LowTraffic(_Strict):
    """Low-traffic guard: a window with fewer eligible events than this never alerts."""

    min_events: int = Field(default=10, ge=0)
    """Minimum eligible events in BOTH the short and the long window (0 turns the guard off)."""


class Alerting(_Strict):
    """Which windows alert, and what the alerts carry."""

    window_set: Literal["sre-workbook", "custom"] = "sre-workbook"
    """``sre-workbook`` (the default 4-window set) or ``custom`` (then ``windows`` is required)."""
    windows: tuple[AlertWindow, ...] = ()
    for_: dict[Severity, str] = Field(default_factory=dict, alias="for")
    """Optional ``for:`` per severity; default none (the short window already confirms)."""
    runbook_url: str = "https://github.com/aikpi/aikpi/blob/main/grafana/runbook.md"
    """Base URL of the runbook; each alert appends its anchor."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on every alert (for routing, e.g. ``team: sre``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("for_", mode="before")
    @classmethod
    def _canon_for(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _canonical(item) for key, item in value.items()}
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"severity", "slo", "workflow", "alertname"}
        for key in value:
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", key) or key in reserved:
                raise ValueError(f"label {key!r} is not a valid, unreserved label name")
        return value

    @model_validator(mode="after")
    def _windows_match_set(self) -> Alerting:
        if self.window_set == "custom" and not self.windows:
            raise ValueError("window_set 'custom' needs a non-empty 'windows' list")
        if self.window_set == "sre-workbook" and self.windows:
            raise ValueError("'windows' is only allowed with window_set: custom")
        return self

    @property
    def effective_windows(self) -> tuple[AlertWindow, ...]:
        """The alert windows in use."""
        return self.windows if self.window_set == "custom" else SRE_WORKBOOK_WINDOWS


def _objective(value: float) -> float:
    if not 0 < value < 100:
        raise ValueError(f"objective is a percentage strictly between 0 and 100, got {value}")
    return value


class WorkflowObjective(_Strict):
    """A per-workflow SLO: a different objective for one workflow name."""

    objective: float
    _check = field_validator("objective")(lambda value: _objective(value))


class SLOSpec(_Strict):
    """The whole spec file (``grafana/slo.yaml``)."""

    version: Literal[1] = 1
    name: str = "ai-outcome"
    """Value of the ``slo`` label; lowercase words joined by ``-``."""
    description: str = "Share of AI-assisted outcomes a human could use, per workflow"
    objective: float = 95.0
    """Target in percent of good events, for every workflow without its own objective."""
    period: str = "28d"
    cohort: str = Cohort.AI_ASSISTED.value
    select_workflows: tuple[str, ...] = ()
    """Only these workflows (empty: every workflow); lets one spec file serve one workflow."""
    bad_outcomes: tuple[Outcome, ...] = (Outcome.OVERRIDDEN, Outcome.ESCALATED, Outcome.REJECTED)
    step_errors_are_bad: bool = True
    """Steps whose code raised (``aikpi_steps_total{status="error"}``) count as eligible and bad."""
    policy_violations_are_bad: bool = True
    """Each policy violation counts as a bad event."""
    low_traffic: LowTraffic = Field(default_factory=LowTraffic)
    alerting: Alerting = Field(default_factory=Alerting)
    workflows: dict[str, WorkflowObjective] = Field(default_factory=dict)
    """Per-workflow objectives, keyed by workflow name."""

    _check_objective = field_validator("objective")(lambda value: _objective(value))
    _canon_period = field_validator("period", mode="before")(lambda value: _canonical(value))

    _name = field_validator("name")(lambda value: check_name(value))

    @field_validator("cohort")
    @classmethod
    def _cohort(cls, value: str) -> str:
        allowed = [c.value for c in Cohort]
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    @field_validator("bad_outcomes")
    @classmethod
    def _bad_outcomes(cls, value: tuple[Outcome, ...]) -> tuple[Outcome, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists an outcome twice")
        return value

    @field_validator("workflows", "select_workflows")
    @classmethod
    def _workflow_names(cls, value: Any) -> Any:
        check_workflow_names(value)
        return value

    @model_validator(mode="after")
    def _period_covers_windows(self) -> SLOSpec:
        period = parse_duration(self.period)
        if not (self.bad_outcomes or self.step_errors_are_bad or self.policy_violations_are_bad):
            raise ValueError("nothing counts as bad: give bad_outcomes or enable step errors")
        for window in self.alerting.effective_windows:
            if parse_duration(window.long_window) > period:
                raise ValueError(
                    f"alert window {window.long_window} is longer than the period {self.period}"
                )
        return self

    def sli_terms(self) -> tuple[tuple[cat.Total, ...], tuple[cat.Total, ...]]:
        """(bad, eligible) events of the SLI as catalogue terms over the spec's cohort: the
        rule generator renders them and the report evaluates them, so both agree."""
        errors = cat.Total(cat.STEPS.name, (("status", ("error",)),))
        eligible = [cat.ALL_OUTCOMES]
        bad = []
        if self.bad_outcomes:
            words = tuple(outcome.value for outcome in self.bad_outcomes)
            bad.append(cat.Total(cat.OUTCOMES.name, (("outcome", words),)))
        if self.step_errors_are_bad:
            eligible.append(errors)
            bad.append(errors)
        if self.policy_violations_are_bad:
            bad.append(cat.Total(cat.POLICY_VIOLATIONS.name))
        return tuple(bad), tuple(eligible)

    def error_budget(self, workflow: str | None = None) -> float:
        """Allowed bad fraction (``1 - objective``) for ``workflow`` (None: the default)."""
        objective = self.objective
        if workflow is not None and workflow in self.workflows:
            objective = self.workflows[workflow].objective
        return round(1 - objective / 100, 12)


class SpecError(ValueError):
    """The spec file is invalid; the message names each bad key and what is allowed."""


def _describe(path: str | Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}")
    return f"invalid SLO spec {path}:\n  " + "\n  ".join(lines)


def load_spec(path: str | Path) -> SLOSpec:
    """Read and validate a spec file; raise :class:`SpecError` with readable reasons."""
    data = read_yaml_mapping(path, "SLO spec", SpecError)
    try:
        return SLOSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe(path, exc)) from exc
