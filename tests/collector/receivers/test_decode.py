"""The OTLP decoders alone: protobuf and JSON give the same SpanRecords; errors name fields."""

from __future__ import annotations

import json

import pytest
from aikpi import semconv
from aikpi_collector.decode import DecodeError, decode_json, decode_protobuf
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from rx_workload import build_spans, hex_ids, json_body, make_runs, protobuf_body, request_of


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
    assert record.duration_seconds == 1.0
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
