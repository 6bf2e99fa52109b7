"""Outcome tokens: compact, URL-safe, versioned, integrity-checked, optionally signed."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import aikpi
import pytest
from aikpi.semconv import MAX_NAME_LENGTH

URL_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def make_token(step: str = "draft", **workflow_kwargs) -> tuple[str, aikpi.StepRun]:
    with aikpi.workflow("support", **workflow_kwargs), aikpi.step(step) as s:
        pass
    return s.token(), s


def payload_of(token: str) -> list:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_round_trip_carries_identity(aikpi_spans):
    token, s = make_token(correlation_id="TICKET-1", cohort="baseline", team="ops")
    assert token.startswith("ak1c.")
    assert URL_SAFE.match(token)
    ctx = s.span.get_span_context()
    kind, cid, workflow, step, cohort, team, trace_hex, span_hex, end_ns = payload_of(token)
    assert (kind, cid, workflow, step, cohort, team) == (
        "s",
        "TICKET-1",
        "support",
        "draft",
        "baseline",
        "ops",
    )
    assert (trace_hex, span_hex) == (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert end_ns == aikpi_spans.one("step draft").end_time


def test_checksum_is_sha256_of_prefix_and_payload(aikpi_spans):
    token, _ = make_token()
    prefix, body, tag = token.split(".")
    expected = hashlib.sha256(f"{prefix}.{body}".encode()).digest()[:16]
    assert base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)) == expected


def test_size_stays_well_under_2kb_with_longest_names(aikpi_spans):
    longest = "n" * MAX_NAME_LENGTH
    run = aikpi.workflow(longest, correlation_id="c" * MAX_NAME_LENGTH, team="t" * MAX_NAME_LENGTH)
    with run, aikpi.step(longest) as s:
        pass
    token = s.token()
    assert len(token) < 1200
    aikpi.record_outcome(token, "accepted")  # and it still decodes


def flip(text: str, index: int) -> str:
    char = "A" if text[index] != "A" else "B"
    return text[:index] + char + text[index + 1 :]


def test_any_altered_character_is_refused(aikpi_spans):
    token, _ = make_token()
    prefix_len = len("ak1c.")
    for index in range(prefix_len, len(token), 7):
        if token[index] == ".":
            continue
        with pytest.raises(ValueError):
            aikpi.record_outcome(flip(token, index), "accepted")


def test_forged_payload_with_old_checksum_is_refused(aikpi_spans):
    token, _ = make_token()
    prefix, _, tag = token.split(".")
    fields = payload_of(token)
    fields[4] = "baseline" if fields[4] == "ai_assisted" else "ai_assisted"
    forged = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="checksum"):
        aikpi.record_outcome(f"{prefix}.{forged}.{tag}", "accepted")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "ak1c..",
        "ak1c.abc",
        "ak2c.e30.AAAA",
        "ak1c.e30.AAAA.x",
        "x" * 5000,
        123,
        None,
    ],
)
def test_malformed_tokens(bad):
    with pytest.raises(ValueError, match="token"):
        aikpi.record_outcome(bad, "accepted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token"):
        aikpi.reopen(bad)  # type: ignore[arg-type]


def test_well_checksummed_but_wrong_shape_is_refused():
    for fields in ([], ["s"], ["q", "c", "w", "s", "ai_assisted", None, "0" * 32, "0" * 16, 1]):
        body = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
        tag = hashlib.sha256(f"ak1c.{body}".encode()).digest()[:16]
        token = f"ak1c.{body}.{base64.urlsafe_b64encode(tag).rstrip(b'=').decode()}"
        with pytest.raises(ValueError, match="malformed aikpi token payload"):
            aikpi.record_outcome(token, "accepted")


def use_key(monkeypatch, key: str | None) -> None:
    """Set or clear AIKPI_TOKEN_KEY as an application would: then (re)configure."""
    if key is None:
        monkeypatch.delenv("AIKPI_TOKEN_KEY", raising=False)
    else:
        monkeypatch.setenv("AIKPI_TOKEN_KEY", key)
    aikpi.configure()


def test_signed_tokens(aikpi_spans, monkeypatch):
    use_key(monkeypatch, "k1-secret")
    signed, _ = make_token("signed")
    assert signed.startswith("ak1h.")
    prefix, body, tag = signed.split(".")
    import hmac

    expected = hmac.new(b"k1-secret", f"{prefix}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)) == expected

    use_key(monkeypatch, "another-key")
    with pytest.raises(aikpi.TokenError, match="signature does not match"):
        aikpi.record_outcome(signed, "accepted")
    use_key(monkeypatch, None)
    with pytest.raises(aikpi.TokenError, match="is signed; set AIKPI_TOKEN_KEY"):
        aikpi.record_outcome(signed, "accepted")
    unsigned, _ = make_token("unsigned")
    use_key(monkeypatch, "k1-secret")
    with pytest.raises(aikpi.TokenError, match="unsigned aikpi token refused"):
        aikpi.record_outcome(unsigned, "accepted")
    aikpi.record_outcome(signed, "accepted")  # right key: accepted
    assert aikpi_spans.one("outcome signed").attributes["aikpi.outcome"] == "accepted"
