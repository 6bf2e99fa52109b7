"""The OTLP decoders alone: protobuf and JSON give the same SpanRecords; errors name fields."""

from __future__ import annotations

import json

import pytest
from aikpi import semconv
from aikpi_collector.engine import SpanRecord
from aikpi_collector.receivers import DecodeError, decode_json, decode_protobuf
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from support.otlp_workload import (
    build_spans,
    hex_ids,
    json_body,
    make_runs,
    protobuf_body,
    request_of,
)


def duration_seconds(record: SpanRecord) -> float:
    """End minus start, in seconds (0 when the clock went backwards)."""
    return max(0, record.end_unix_nano - record.start_unix_nano) / 1e9


def test_protobuf_and_json_decode_to_the_same_records() -> None:
    spans = build_spans(make_runs(12))
    from_protobuf = decode_protobuf(protobuf_body(spans))
    from_json = decode_json(json_body(spans))
    assert from_protobuf == from_json
    assert len(from_protobuf) == len(spans)
    by_id = {span.context.span_id.to_bytes(8, "big"): span for span in spans}
    for record in from_protobuf:
        sdk_span = by_id[record.span_id]
        assert record.trace_id == sdk_span.context.trace_id.to_bytes(16, "big")
        assert record.name == sdk_span.name
        assert record.start_unix_nano == sdk_span.start_time
        assert record.end_unix_nano == sdk_span.end_time
        assert record.attributes == dict(sdk_span.attributes or {})
        assert record.status_error == (sdk_span.status.status_code.name == "ERROR")
        assert record.resource_attributes["service.name"] == "rx-test"


def test_every_any_value_kind_and_events() -> None:
    request = request_of(build_spans(make_runs(1)))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend(
        [
            KeyValue(
                key="list",
                value=AnyValue(
                    array_value=ArrayValue(
                        values=[AnyValue(int_value=1), AnyValue(string_value="x")]
                    )
                ),
            ),
            KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
            KeyValue(key="empty", value=AnyValue()),
        ]
    )
    event = span.events.add()
    event.name = semconv.POLICY_VIOLATION_EVENT
    event.attributes.add(key=semconv.POLICY_NAME, value=AnyValue(string_value="pii"))
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    hex_ids(document)
    for body, decode in (
        (request.SerializeToString(), decode_protobuf),
        (json.dumps(document).encode(), decode_json),
    ):
        record = next(r for r in decode(body) if r.span_id == span.span_id)
        assert record.attributes["list"] == (1, "x")
        assert record.attributes["raw"] == b"\x00\x01"
        assert "empty" not in record.attributes
        assert record.events[-1].name == semconv.POLICY_VIOLATION_EVENT
        assert record.events[-1].attributes == {semconv.POLICY_NAME: "pii"}


def test_json_int64_as_strings_or_numbers_and_special_doubles() -> None:
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "x",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": 1700000001000000000,
                                "status": {"code": 2},
                                "unknownField": {"ignored": True},
                                "attributes": [
                                    {"key": "a", "value": {"intValue": "42"}},
                                    {"key": "b", "value": {"intValue": 7}},
                                    {"key": "c", "value": {"doubleValue": "NaN"}},
                                    {"key": "d", "value": {"doubleValue": 1}},
                                    {"key": "e", "value": {"boolValue": True}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (record,) = decode_json(json.dumps(body).encode())
    assert record.start_unix_nano == 1_700_000_000_000_000_000
    assert duration_seconds(record) == 1.0
    assert record.status_error is True
    assert record.attributes["a"] == 42 and record.attributes["b"] == 7
    assert record.attributes["c"] != record.attributes["c"]  # NaN: the engine rejects it
    assert record.attributes["d"] == 1.0 and record.attributes["e"] is True


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", ["not valid JSON"]),
        (b"[]", ["request", "expected an object"]),
        (b'{"resourceSpans": {}}', ["resourceSpans", "expected an array"]),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}', ["spans[0]", "object"]),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "00", "spanId": ""}]}]}]}',
            ["spans[0].traceId", "32 hex"],
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": '
            b'"0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", '
            b'"startTimeUnixNano": "soon"}]}]}]}',
            ["startTimeUnixNano", "integer"],
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": '
            b'"0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", '
            b'"attributes": [{"key": "k", "value": {"intValue": "x1"}}]}]}]}]}',
            ["attributes[0].value.intValue"],
        ),
        (b"[" * 100_000, ["JSON"]),
    ],
)
def test_json_errors_name_the_field(body: bytes, words: list[str]) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_json(body)
    for word in words:
        assert word in str(caught.value)


def test_protobuf_errors() -> None:
    with pytest.raises(DecodeError, match="not a valid protobuf"):
        decode_protobuf(b"\x0a\x05abc")
    request = request_of(build_spans(make_runs(1)))
    request.resource_spans[0].scope_spans[0].spans[2].span_id = b""
    with pytest.raises(DecodeError, match=r"spans\[2\].*span_id 8 bytes"):
        decode_protobuf(request.SerializeToString())
    assert decode_protobuf(b"") == []
    assert decode_protobuf(ExportTraceServiceRequest().SerializeToString()) == []


def _one_span_document(**fields: object) -> bytes:
    span: dict[str, object] = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "x",
    }
    span.update(fields)
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("traceId", "01 02 03 04 05 06 07 08 09 0a 0b"),  # 32 characters, 11 bytes
        ("traceId", "0af7651916cd43dd8448eb211c8031\t9"),
        ("traceId", "AAECAwQFBgcICQoLDA0ODw=="),  # base64: not OTLP/JSON
        ("traceId", "0af7651916cd43dd8448eb211c80319c00"),
        ("spanId", "b7ad 6b7169203331"),
        ("spanId", "b7ad6b716920333\n"),
        ("spanId", "AAECAwQFBgc="),
        ("parentSpanId", "01 02 03 04 05 6"),
    ],
)
def test_json_ids_must_be_exactly_32_or_16_hex_digits(field: str, value: str) -> None:
    with pytest.raises(DecodeError, match=f"{field}: expected"):
        decode_json(_one_span_document(**{field: value}))


def test_json_ids_are_case_insensitive_hex() -> None:
    (record,) = decode_json(
        _one_span_document(traceId="0AF7651916CD43DD8448EB211C80319C", parentSpanId="")
    )
    assert record.trace_id == bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    assert record.parent_span_id == b""


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"endTimeUnixNano": "1" + "0" * 400}, "endTimeUnixNano"),
        ({"endTimeUnixNano": str(2**64)}, "endTimeUnixNano"),
        ({"startTimeUnixNano": 2**64}, "startTimeUnixNano"),
        ({"startTimeUnixNano": -1}, "startTimeUnixNano"),
        ({"endTimeUnixNano": 1e20}, "endTimeUnixNano"),
        ({"endTimeUnixNano": "1_000"}, "endTimeUnixNano"),
        ({"endTimeUnixNano": " 42"}, "endTimeUnixNano"),
        ({"endTimeUnixNano": "\u0664\u0662"}, "endTimeUnixNano"),  # Arabic-Indic digits
        ({"attributes": [{"key": "k", "value": {"intValue": str(2**63)}}]}, "intValue"),
        ({"attributes": [{"key": "k", "value": {"intValue": -(2**63) - 1}}]}, "intValue"),
        ({"status": {"code": 2**31}}, "status.code"),
    ],
)
def test_json_integers_outside_their_protobuf_type_are_malformed(
    fields: dict[str, object], where: str
) -> None:
    with pytest.raises(DecodeError, match=where):
        decode_json(_one_span_document(**fields))


def test_json_integers_at_the_edges_of_their_type_decode() -> None:
    (record,) = decode_json(
        _one_span_document(
            startTimeUnixNano=0,
            endTimeUnixNano=str(2**64 - 1),
            attributes=[
                {"key": "low", "value": {"intValue": str(-(2**63))}},
                {"key": "high", "value": {"intValue": 2**63 - 1}},
                {"key": "float", "value": {"intValue": 5.0}},
            ],
        )
    )
    assert record.end_unix_nano == 2**64 - 1
    assert record.attributes == {"low": -(2**63), "high": 2**63 - 1, "float": 5}
