"""Where aikpi keeps its dimensions in the OpenTelemetry context, and how baggage mirrors them.

The dimensions of the innermost workflow or step live under a private context key as a
ready-made attribute dict (cheap to stamp onto spans). When baggage propagation is on they
are mirrored into OTel baggage, so the W3C ``baggage`` header carries them to other
processes. Received baggage is untrusted: any client can send the header, and web-framework
instrumentations extract it on every request. :func:`dims_from_baggage` uses received
``aikpi.*`` entries only when they carry a valid signature (HMAC-SHA256 with the shared key,
:data:`~aikpi.semconv.BAGGAGE_SIGNATURE`) or the hop was declared internal; otherwise they
are ignored as a whole, with one log line per distinct header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Mapping

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from aikpi import _validate
from aikpi._state import KEY_ENV, state
from aikpi.semconv import (
    BAGGAGE_KEYS,
    BAGGAGE_SIGNATURE,
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
    "INTERNAL_KEY",
    "STEP_KEY",
    "WORKFLOW_KEY",
    "Dims",
    "baggage_signature",
    "dims_from_baggage",
    "dims_of",
    "mark_internal",
    "received_values",
    "sync_baggage",
)

_LOG = logging.getLogger("aikpi")

DIMS_KEY = otel_context.create_key("aikpi-dims")
STEP_KEY = otel_context.create_key("aikpi-step")
WORKFLOW_KEY = otel_context.create_key("aikpi-workflow")
INTERNAL_KEY = otel_context.create_key("aikpi-internal-baggage")
"""The received aikpi values that ``extract(..., internal=True)`` vouched for: trust is tied
to these exact values, so a header extracted later inside the block is checked afresh."""


NO_WORKFLOW = "none"
"""Workflow name of a step outside any workflow, and of baggage that names none: the
collector counts only spans with a workflow name, so there is always one."""

_SIGNATURE_VERSION = "v1"
_SIGNATURE_DOMAIN = b"aikpi-baggage-v1\n"
"""Prefix of the signed text: a baggage signature can never pass for a token's, or back."""

_RECEIVED_MEMORY = 1024
"""Distinct received headers remembered (checked and, if refused, logged once each)."""

Values = tuple[object, ...]
"""The received values of :data:`~aikpi.semconv.BAGGAGE_KEYS`, in that order (None: absent)."""

_received: dict[tuple[Values, object, bool, bytes | None], Dims | None] = {}
_received_lock = threading.Lock()


def _signed_text(values: Values) -> bytes:
    # Values are signed as the receiver will read them: W3C baggage strips surrounding
    # whitespace, so the canonical form does too.
    canonical = [value.strip() if isinstance(value, str) else None for value in values]
    return _SIGNATURE_DOMAIN + json.dumps(
        canonical, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def baggage_signature(values: Values, key: bytes) -> str:
    """``v1.<base64url HMAC-SHA256>`` of the aikpi baggage ``values`` under ``key``."""
    tag = hmac.digest(key, _signed_text(values), hashlib.sha256)
    return f"{_SIGNATURE_VERSION}.{base64.urlsafe_b64encode(tag).rstrip(b'=').decode('ascii')}"


class Dims:
    """The dimensions of one workflow run or step; immutable once made."""

    __slots__ = (
        "_signed",
        "attributes",
        "cohort",
        "correlation_id",
        "step",
        "team",
        "workflow",
    )

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
        self._signed: tuple[bytes, str] | None = None

    def span_attributes(self, span_type: str) -> dict[str, AttributeValue]:
        """The attributes of an own span of ``span_type`` carrying these dimensions."""
        attributes: dict[str, AttributeValue] = dict(self.attributes)
        attributes[SPAN_TYPE] = span_type
        return attributes

    def signature(self, key: bytes) -> str:
        """The baggage signature of these dimensions; made once per key (dims are reused)."""
        signed = self._signed
        if signed is not None and signed[0] == key:
            return signed[1]
        attributes = self.attributes
        signature = baggage_signature(tuple(attributes.get(k) for k in BAGGAGE_KEYS), key)
        self._signed = (key, signature)
        return signature


def received_values(ctx: Context) -> Values:
    """The aikpi entries of the baggage in ``ctx``, in :data:`BAGGAGE_KEYS` order."""
    entries = baggage.get_all(ctx)
    return tuple(entries.get(key) for key in BAGGAGE_KEYS)


def mark_internal(ctx: Context) -> Context:
    """``ctx`` with its received aikpi baggage vouched for (an internal hop)."""
    return otel_context.set_value(INTERNAL_KEY, received_values(ctx), ctx)


def dims_from_baggage(ctx: Context) -> Dims | None:
    """Dimensions an upstream process sent in the ``baggage`` header, if they are trusted.

    Trusted means: signed with the shared key, received on a hop marked internal, or this
    service trusts every inbound hop (``configure(trust_inbound_baggage=True)``). Anything
    else is ignored as a whole and logged once per distinct header. Trusted values are still
    checked; a bad one is dropped with a warning (never an exception: the code being wrapped
    did nothing wrong). The verdict per distinct header is remembered, so a service whose
    every span carries the same baggage checks it once, not once per span.
    """
    entries = baggage.get_all(ctx)
    if not entries:
        return None
    values = tuple(entries.get(key) for key in BAGGAGE_KEYS)
    if values.count(None) == len(values):  # nothing of aikpi's was received
        return None
    vouched = state.trust_inbound_baggage or ctx.get(INTERNAL_KEY) == values
    signature = entries.get(BAGGAGE_SIGNATURE)
    key = state.token_key
    memo = (values, signature, vouched, key)
    try:
        return _received[memo]
    except KeyError:
        pass
    except TypeError:  # an unhashable value set in-process: checked, never remembered
        return _trusted_dims(values, signature, vouched, key)
    dims = _trusted_dims(values, signature, vouched, key)
    with _received_lock:
        if len(_received) >= _RECEIVED_MEMORY:
            del _received[next(iter(_received))]
        _received[memo] = dims
    return dims


def _trusted_dims(
    values: Values, signature: object, vouched: bool, key: bytes | None
) -> Dims | None:
    if not vouched:
        problem = _signature_problem(values, signature, key)
        if problem is not None:
            present = ", ".join(
                name for name, value in zip(BAGGAGE_KEYS, values, strict=True) if value is not None
            )
            _LOG.warning(
                "aikpi: ignoring received baggage %s: %s. Inbound baggage is untrusted: set the "
                "same %s in the sending service so that it signs it, or mark the hop internal "
                "(aikpi.continue_from(headers, internal=True), "
                "aikpi.configure(trust_inbound_baggage=True))",
                present,
                problem,
                KEY_ENV,
            )
            return None
    return _checked_dims(dict(zip(BAGGAGE_KEYS, values, strict=True)))


def _signature_problem(values: Values, signature: object, key: bytes | None) -> str | None:
    """Why ``signature`` does not vouch for ``values``; ``None`` when it does."""
    if signature is None:
        return "it is not signed"
    if key is None:
        return f"it is signed, but {KEY_ENV} is not set here to check it"
    if not all(value is None or isinstance(value, str) for value in values):
        return "an entry is not a string"
    expected = baggage_signature(values, key)
    if not (
        isinstance(signature, str)
        and hmac.compare_digest(signature.strip().encode("utf-8"), expected.encode("ascii"))
    ):
        return f"its signature does not match {KEY_ENV} (altered, or signed with another key)"
    return None


def forget_received() -> None:
    """Forget the verdicts on received headers (for tests: each is logged again)."""
    with _received_lock:
        _received.clear()


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
    """The innermost aikpi dimensions in ``ctx``: own ones first, then trusted baggage."""
    dims = ctx.get(DIMS_KEY)
    if dims is not None:
        return dims  # type: ignore[no-any-return]
    return dims_from_baggage(ctx)


def sync_baggage(ctx: Context, dims: Dims, propagate: bool, key: bytes | None) -> Context:
    """Mirror ``dims`` into baggage (propagation on) or keep aikpi keys out of it (off).

    With a shared ``key`` the mirrored entries carry their signature, so a receiving service
    with the same key trusts them, also when a third-party HTTP client instrumentation sends
    the header on its own.
    """
    current = baggage.get_all(ctx)
    if propagate:
        values = dims.attributes
        for name in BAGGAGE_KEYS:
            value = values.get(name)
            if value is None:
                if name in current:
                    ctx = baggage.remove_baggage(name, ctx)
            elif current.get(name) != value:
                ctx = baggage.set_baggage(name, value, ctx)
        if key is not None:
            signature = dims.signature(key)
            if current.get(BAGGAGE_SIGNATURE) != signature:
                ctx = baggage.set_baggage(BAGGAGE_SIGNATURE, signature, ctx)
        elif BAGGAGE_SIGNATURE in current:  # a received signature no longer fits
            ctx = baggage.remove_baggage(BAGGAGE_SIGNATURE, ctx)
    elif current:
        for name in (*BAGGAGE_KEYS, BAGGAGE_SIGNATURE):
            if name in current:
                ctx = baggage.remove_baggage(name, ctx)
    return ctx
