"""Where aikpi keeps its dimensions in the OpenTelemetry context, and how baggage mirrors them.

The dimensions of the innermost workflow or step live under a private context key as a
ready-made attribute dict (cheap to stamp onto spans). When baggage propagation is on they
are mirrored into OTel baggage, so the W3C ``baggage`` header carries them to other
processes; a process that receives them reads them back with :func:`dims_from_baggage`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from aikpi import _validate
from aikpi.semconv import (
    BAGGAGE_KEYS,
    COHORT,
    CORRELATION_ID,
    SPAN_TYPE,
    STEP_NAME,
    TEAM,
    WORKFLOW_NAME,
    Cohort,
)

__all__ = (
    "DIMS_KEY",
    "STEP_KEY",
    "WORKFLOW_KEY",
    "Dims",
    "dims_from_baggage",
    "dims_of",
    "sync_baggage",
)

_LOG = logging.getLogger("aikpi")

DIMS_KEY = otel_context.create_key("aikpi-dims")
STEP_KEY = otel_context.create_key("aikpi-step")
WORKFLOW_KEY = otel_context.create_key("aikpi-workflow")


NO_WORKFLOW = "none"
"""Workflow name of a step outside any workflow, and of baggage that names none: the
collector counts only spans with a workflow name, so there is always one."""

_last_received: tuple[tuple[tuple[str, object], ...], Dims | None] = ((), None)
"""The last baggage read and what it gave: a service whose every span carries the same
received baggage checks it (and warns about a bad entry) once, not once per span."""


class Dims:
    """The dimensions of one workflow run or step; immutable once made."""

    __slots__ = ("attributes", "cohort", "correlation_id", "step", "team", "workflow")

    def __init__(
        self,
        correlation_id: str,
        workflow: str,
        step: str | None,
        cohort: str,
        team: str | None,
    ) -> None:
        self.correlation_id = correlation_id
        self.workflow = workflow
        self.step = step
        self.cohort = cohort
        self.team = team
        attributes = {CORRELATION_ID: correlation_id, WORKFLOW_NAME: workflow, COHORT: cohort}
        if step is not None:
            attributes[STEP_NAME] = step
        if team is not None:
            attributes[TEAM] = team
        self.attributes: Mapping[str, str] = attributes
        """Span attributes of these dimensions (only the ones that are set)."""

    def span_attributes(self, span_type: str) -> dict[str, str]:
        """The attributes of an own span of ``span_type`` carrying these dimensions."""
        attributes = dict(self.attributes)
        attributes[SPAN_TYPE] = span_type
        return attributes


def dims_from_baggage(ctx: Context) -> Dims | None:
    """Dimensions an upstream process sent in the ``baggage`` header, if any.

    Values come from outside, so each is checked; a bad one is dropped with a warning
    (never an exception: the code being wrapped did nothing wrong).
    """
    global _last_received
    entries = baggage.get_all(ctx)
    if not entries:
        return None
    key = tuple(entries.items())
    last_key, last_dims = _last_received
    if key == last_key:
        return last_dims
    dims = _checked_dims(entries)
    _last_received = (key, dims)
    return dims


def _checked_dims(entries: Mapping[str, object]) -> Dims | None:
    correlation_id = _soft_name(CORRELATION_ID, entries.get(CORRELATION_ID))
    if correlation_id is None:
        return None
    cohort = entries.get(COHORT)
    try:
        cohort = _validate.check_cohort(cohort) if cohort is not None else Cohort.AI_ASSISTED.value
    except ValueError:
        _LOG.warning("aikpi: ignoring baggage entry %s=%r (unknown cohort)", COHORT, cohort)
        cohort = Cohort.AI_ASSISTED.value
    return Dims(
        correlation_id,
        _soft_name(WORKFLOW_NAME, entries.get(WORKFLOW_NAME)) or NO_WORKFLOW,
        _soft_name(STEP_NAME, entries.get(STEP_NAME)),
        cohort,
        _soft_name(TEAM, entries.get(TEAM)),
    )


def _soft_name(key: str, value: object) -> str | None:
    if value is None:
        return None
    try:
        return _validate.check_name(key, value)
    except ValueError as exc:
        _LOG.warning("aikpi: ignoring baggage entry %s (%s)", key, exc)
        return None


def dims_of(ctx: Context) -> Dims | None:
    """The innermost aikpi dimensions in ``ctx``: own ones first, then received baggage."""
    dims = ctx.get(DIMS_KEY)
    if dims is not None:
        return dims  # type: ignore[no-any-return]
    return dims_from_baggage(ctx)


def sync_baggage(ctx: Context, dims: Dims, propagate: bool) -> Context:
    """Mirror ``dims`` into baggage (propagation on) or keep aikpi keys out of it (off)."""
    current = baggage.get_all(ctx)
    if propagate:
        values = dims.attributes
        for key in BAGGAGE_KEYS:
            value = values.get(key)
            if value is None:
                if key in current:
                    ctx = baggage.remove_baggage(key, ctx)
            elif current.get(key) != value:
                ctx = baggage.set_baggage(key, value, ctx)
    elif current:
        for key in BAGGAGE_KEYS:
            if key in current:
                ctx = baggage.remove_baggage(key, ctx)
    return ctx
