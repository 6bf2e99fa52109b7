"""Outcome tokens: a step's (or workflow's) identity, small enough to put in a URL or a queue.

Format (version 1), three dot-separated parts, all URL-safe::

    ak1c.<payload>.<checksum>     integrity checksum only (no AIKPI_TOKEN_KEY)
    ak1h.<payload>.<signature>    HMAC-SHA256 signature with the key in AIKPI_TOKEN_KEY

``payload`` is unpadded base64url of a compact JSON array:
``[kind, correlation_id, workflow, step, cohort, team, trace_id_hex, span_id_hex, end_ns]``
with kind ``"s"`` (step) or ``"w"`` (workflow). The checksum is the first 16 bytes of
SHA-256 over ``prefix.payload``; the signature is the full HMAC-SHA256 over the same text.

A checksum stops accidents, not forgers: anyone can build a checksummed token. So with a key
configured only signed tokens are accepted, and without one the first ``token()`` warns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import warnings
from dataclasses import dataclass

from aikpi import _validate
from aikpi._state import KEY_ENV, state

__all__ = (
    "KEY_ENV",
    "MAX_TOKEN_LENGTH",
    "TokenData",
    "TokenError",
    "UnsignedTokenWarning",
    "decode_token",
    "encode_token",
)


class TokenError(ValueError):
    """An outcome token was refused: malformed, altered, unsigned while a key is set, signed
    with another key, of the wrong kind, or naming an end time in the future."""


class UnsignedTokenWarning(UserWarning):
    """Tokens are made without ``AIKPI_TOKEN_KEY``: anyone can forge one (issued once)."""


_warned_unsigned = False

MAX_TOKEN_LENGTH = 2048
"""Tokens longer than this are refused before any decoding."""

_CHECKSUM_PREFIX = "ak1c"
_SIGNED_PREFIX = "ak1h"
_CHECKSUM_BYTES = 16
_KINDS = ("s", "w")


@dataclass(frozen=True, slots=True)
class TokenData:
    """What a token carries."""

    kind: str
    """``"s"`` for a step token, ``"w"`` for a workflow token."""
    correlation_id: str
    workflow: str | None
    step: str | None
    cohort: str
    team: str | None
    trace_id: int
    span_id: int
    end_ns: int
    """When the step (or workflow) ended, or when the token was made if it was still open."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(ch in text for ch in "=+/"):
        raise TokenError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # canonical form only: no two spellings of one token
        raise TokenError("not canonical base64url")
    return raw


def _warn_unsigned() -> None:
    """Warn once per process: a missing key is a deployment choice to see, not to repeat.

    ``warnings`` rather than logging: it points at the application line that made the
    token, shows up in test runs, and a deliberate key-less setup silences it by category.
    """
    global _warned_unsigned
    if _warned_unsigned:
        return
    _warned_unsigned = True
    warnings.warn(
        f"aikpi outcome tokens are not signed: {KEY_ENV} is not set, so anyone can build a "
        "token that records an outcome. Set the same secret in every process that makes or "
        "records tokens.",
        UnsignedTokenWarning,
        stacklevel=4,
    )


def _tag(prefix: str, body: str, key: bytes | None) -> bytes:
    signed = f"{prefix}.{body}".encode("ascii")
    if prefix == _SIGNED_PREFIX:
        assert key is not None
        return hmac.new(key, signed, hashlib.sha256).digest()
    return hashlib.sha256(signed).digest()[:_CHECKSUM_BYTES]


def encode_token(data: TokenData) -> str:
    """The token string for ``data``; signed when ``AIKPI_TOKEN_KEY`` is set (else one
    :class:`UnsignedTokenWarning` per process). Called by ``StepRun.token()`` and
    ``WorkflowRun.token()`` only (the warning names their caller)."""
    fields = [
        data.kind,
        data.correlation_id,
        data.workflow,
        data.step,
        data.cohort,
        data.team,
        f"{data.trace_id:032x}",
        f"{data.span_id:016x}",
        data.end_ns,
    ]
    body = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    key = state.token_key
    if key is None:
        _warn_unsigned()
    prefix = _SIGNED_PREFIX if key else _CHECKSUM_PREFIX
    return f"{prefix}.{body}.{_b64(_tag(prefix, body, key))}"


def decode_token(token: object) -> TokenData:
    """Check and read a token; any malformed, altered or wrongly signed token is a TokenError."""
    if not isinstance(token, str):
        raise TokenError(f"an aikpi token must be a string, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(f"malformed aikpi token: longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] not in (_CHECKSUM_PREFIX, _SIGNED_PREFIX):
        raise TokenError(
            "malformed aikpi token: expected 'ak1c.<payload>.<checksum>' or "
            "'ak1h.<payload>.<signature>'"
        )
    prefix, body, tag_text = parts
    try:
        tag = _unb64(tag_text)
        raw = _unb64(body)
    except (ValueError, binascii.Error) as exc:
        raise TokenError("malformed aikpi token: a part is not base64url") from exc
    key = state.token_key
    if prefix == _SIGNED_PREFIX:
        if key is None:
            raise TokenError(f"aikpi token is signed; set {KEY_ENV} to the key that signed it")
        if not hmac.compare_digest(tag, _tag(prefix, body, key)):
            raise TokenError(f"aikpi token signature does not match {KEY_ENV}: altered or foreign")
    else:
        if key is not None:
            raise TokenError(
                f"unsigned aikpi token refused: {KEY_ENV} is set, so only signed tokens count"
            )
        if not hmac.compare_digest(tag, _tag(prefix, body, None)):
            raise TokenError("aikpi token failed its checksum: it was altered or truncated")
    return _parse(raw)


def _parse(raw: bytes) -> TokenData:
    try:
        fields = json.loads(raw.decode("utf-8"))
        if not isinstance(fields, list) or len(fields) != 9:
            raise TokenError("wrong shape")
        kind, correlation_id, workflow, step, cohort, team, trace_hex, span_hex, end_ns = fields
        if kind not in _KINDS:
            raise TokenError(f"unknown kind {kind!r}")
        if isinstance(end_ns, bool) or not isinstance(end_ns, int) or end_ns < 0:
            raise TokenError("bad end time")
        if not (isinstance(trace_hex, str) and len(trace_hex) == 32):
            raise TokenError("bad trace id")
        if not (isinstance(span_hex, str) and len(span_hex) == 16):
            raise TokenError("bad span id")
        return TokenData(
            kind=kind,
            correlation_id=_validate.check_name("correlation_id", correlation_id),
            workflow=_validate.check_optional_name("workflow name", workflow),
            step=_validate.check_optional_name("step name", step),
            cohort=_validate.check_cohort(cohort),
            team=_validate.check_optional_name("team", team),
            trace_id=int(trace_hex, 16),
            span_id=int(span_hex, 16),
            end_ns=end_ns,
        )
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise TokenError(f"malformed aikpi token payload: {exc}") from exc
