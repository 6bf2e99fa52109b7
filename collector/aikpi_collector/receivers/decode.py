"""OTLP trace requests (protobuf or JSON bytes) to :class:`SpanRecord` lists.

Both decoders are all-or-nothing: a malformed request raises :class:`DecodeError` with a
readable message naming the offending field, and nothing from it reaches the engine.
They are written for speed (plain loops, a string value read without ``WhichOneof``): the
receivers spend most of their time here. Resource, span and event attributes are read by
one function (a copy inlined into the span loop saved about 1 %, within the benchmark's
noise). The JSON decoder walks
``json.loads`` output directly, because ``google.protobuf.json_format.Parse`` is several
times slower (see ``benchmarks/bench_collector.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from google.protobuf.message import DecodeError as _ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aikpi_collector.engine.spanrecord import SpanEvent, SpanRecord

__all__ = ("DecodeError", "decode_json", "decode_protobuf")

_STATUS_CODE_ERROR = 2
"""``opentelemetry.proto.trace.v1.Status.StatusCode.STATUS_CODE_ERROR``."""

_SCALAR_KINDS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


class DecodeError(ValueError):
    """The request body is not a valid OTLP ``ExportTraceServiceRequest``."""


# --- protobuf -------------------------------------------------------------------------


def _pb_complex_value(value: Any, kind: str) -> Any:
    """Array, key-value list and bytes values (rare on the hot path)."""
    if kind == "array_value":
        out = []
        for item in value.array_value.values:
            item_kind = item.WhichOneof("value")
            if item_kind is None:
                continue
            out.append(
                getattr(item, item_kind)
                if item_kind in _SCALAR_KINDS
                else _pb_complex_value(item, item_kind)
            )
        return tuple(out)
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    return bytes(value.bytes_value)


def _pb_attributes(key_values: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` to a dict (empty values are skipped).

    A non-empty ``string_value`` can only be read from a value whose oneof is set to it
    (any other member makes it read as ``""``), so the common string case costs one field
    read instead of ``WhichOneof`` plus a read; everything else takes the general branch.
    """
    attributes: dict[str, Any] = {}
    for kv in key_values:
        value = kv.value
        text = value.string_value
        if text:
            attributes[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        if kind == "int_value":
            attributes[kv.key] = value.int_value
        elif kind == "double_value":
            attributes[kv.key] = value.double_value
        elif kind == "string_value":
            attributes[kv.key] = text
        elif kind == "bool_value":
            attributes[kv.key] = value.bool_value
        elif kind is not None:
            attributes[kv.key] = _pb_complex_value(value, kind)
    return attributes


def _bad_ids_message(request: ExportTraceServiceRequest) -> str:
    """Where the first span with a wrong-length id is (computed only on the error path)."""
    for r_index, resource_spans in enumerate(request.resource_spans):
        for s_index, scope_spans in enumerate(resource_spans.scope_spans):
            for index, span in enumerate(scope_spans.spans):
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    return (
                        f"resourceSpans[{r_index}].scopeSpans[{s_index}].spans[{index}]: "
                        f"trace_id must be 16 bytes and span_id 8 bytes, "
                        f"got {len(span.trace_id)} and {len(span.span_id)}"
                    )
    return "a span has a trace_id or span_id of the wrong length"  # pragma: no cover


def decode_protobuf(body: bytes) -> list[SpanRecord]:
    """Decode a binary ``ExportTraceServiceRequest``; raise :class:`DecodeError` if malformed."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (_ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(f"body is not a valid protobuf ExportTraceServiceRequest: {exc}") from exc
    records: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource_attributes = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id = span.trace_id
                span_id = span.span_id
                if len(trace_id) != 16 or len(span_id) != 8:
                    raise DecodeError(_bad_ids_message(request))
                events = span.events
                records.append(
                    SpanRecord(
                        trace_id,
                        span_id,
                        span.name,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.status.code == _STATUS_CODE_ERROR,
                        _pb_attributes(span.attributes),
                        [SpanEvent(e.name, _pb_attributes(e.attributes)) for e in events]
                        if events
                        else [],
                        resource_attributes,
                        span.parent_span_id,
                    )
                )
    return records


# --- JSON (OTLP/JSON mapping: camelCase keys, hex ids, int64 as string or number) -------
# Strict where the mapping is: ids are exactly 32/16 hex digits, integers fit their protobuf
# type (fixed64 times 0..2**64-1, int64 values, int32 enums), so a value the protobuf
# encoding could not carry is a malformed request (400), not a span counted with it.


class _JsonError(Exception):
    """Internal: a structural problem, with the path filled in by the caller."""


def _expect_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _JsonError(f"{what}: expected an array, got {type(value).__name__}")
    return value


def _shown(value: Any) -> str:
    """``repr`` of a bad value for an error message, cut short."""
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "..."


_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
_UINT64_MAX = _UINT64[1]
_INT32 = (-(2**31), 2**31 - 1)
_DECIMAL = re.compile(r"-?[0-9]+")
"""What the protobuf JSON mapping allows for a 64-bit integer written as a string."""


def _json_int(value: Any, what: str, bounds: tuple[int, int] = _INT64) -> int:
    """An integer field: a JSON number or a decimal string, within its protobuf type
    (``bounds``: int64 by default, uint64 for fixed64 times, int32 for enums)."""
    if isinstance(value, bool):
        raise _JsonError(f"{what}: expected an integer, got a boolean")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        if len(value) <= 21 and _DECIMAL.fullmatch(value):
            number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None:
        raise _JsonError(
            f"{what}: expected an integer (number or decimal string), got {_shown(value)}"
        )
    low, high = bounds
    if not low <= number <= high:
        raise _JsonError(f"{what}: {_shown(value)} is outside {low}..{high}")
    return number


_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _json_double(value: Any, what: str) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL_DOUBLES.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise _JsonError(f"{what}: expected a number, got {value!r}")


def _json_any_value(value: Any, what: str) -> Any:
    """An ``AnyValue`` object to a Python value (``None`` for an empty value)."""
    if not isinstance(value, dict):
        raise _JsonError(f"{what}: expected an AnyValue object, got {type(value).__name__}")
    if "stringValue" in value:
        result = value["stringValue"]
        if not isinstance(result, str):
            raise _JsonError(f"{what}.stringValue: expected a string")
        return result
    if "intValue" in value:
        return _json_int(value["intValue"], f"{what}.intValue")
    if "doubleValue" in value:
        return _json_double(value["doubleValue"], f"{what}.doubleValue")
    if "boolValue" in value:
        result = value["boolValue"]
        if not isinstance(result, bool):
            raise _JsonError(f"{what}.boolValue: expected true or false")
        return result
    if "arrayValue" in value:
        array = value["arrayValue"]
        if not isinstance(array, dict):
            raise _JsonError(f"{what}.arrayValue: expected an object")
        items = _expect_list(array.get("values"), f"{what}.arrayValue.values")
        converted = (
            _json_any_value(item, f"{what}.arrayValue.values[{i}]") for i, item in enumerate(items)
        )
        return tuple(item for item in converted if item is not None)
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        if not isinstance(kvlist, dict):
            raise _JsonError(f"{what}.kvlistValue: expected an object")
        return _json_attributes(kvlist.get("values"), f"{what}.kvlistValue.values")
    if "bytesValue" in value:
        raw = value["bytesValue"]
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise _JsonError(f"{what}.bytesValue: expected base64, got {raw!r}") from exc
    return None


def _json_attributes(items: Any, what: str) -> dict[str, Any]:
    """A ``KeyValue`` array to a dict; the common string/int/double/bool cases inline."""
    attributes: dict[str, Any] = {}
    for index, item in enumerate(_expect_list(items, what)):
        try:
            key = item["key"]
            value = item["value"]
        except (KeyError, TypeError):
            if not isinstance(item, dict):
                raise _JsonError(f"{what}[{index}]: expected a KeyValue object") from None
            if not isinstance(item.get("key"), str):
                raise _JsonError(f"{what}[{index}].key: expected a string") from None
            continue  # a key without a value: an empty AnyValue, skipped
        if not isinstance(key, str):
            raise _JsonError(f"{what}[{index}].key: expected a string, got {key!r}")
        if type(value) is dict and len(value) == 1:
            if "stringValue" in value:
                text = value["stringValue"]
                if type(text) is str:
                    attributes[key] = text
                    continue
            elif "doubleValue" in value:
                number = value["doubleValue"]
                if type(number) is float:
                    attributes[key] = number
                    continue
        converted = _json_any_value(value, f"{what}[{index}].value")
        if converted is not None:
            attributes[key] = converted
    return attributes


_HEX_ID = {16: re.compile(r"[0-9A-Fa-f]{32}"), 8: re.compile(r"[0-9A-Fa-f]{16}")}


def _json_id(value: Any, size: int, what: str) -> bytes:
    """A trace or span id: exactly ``2 * size`` hex digits, as OTLP/JSON specifies (not
    base64, the generic protobuf JSON form; ``bytes.fromhex`` alone would skip spaces)."""
    if isinstance(value, str) and _HEX_ID[size].fullmatch(value):
        return bytes.fromhex(value)
    raise _JsonError(f"{what}: expected {2 * size} hex digits, got {_shown(value)}")


def _json_parent_id(value: Any, what: str) -> bytes:
    """The parent span id: absent or empty for a root span, else 8 bytes like a span id."""
    if value is None or value == "":
        return b""
    return _json_id(value, 8, what)


def _json_status_error(status: Any, what: str) -> bool:
    if status is None:
        return False
    if not isinstance(status, dict):
        raise _JsonError(f"{what}: expected an object")
    code = status.get("code", 0)
    if code == "STATUS_CODE_ERROR":
        return True
    if isinstance(code, str) and code in ("STATUS_CODE_UNSET", "STATUS_CODE_OK"):
        return False
    if isinstance(code, int) and not isinstance(code, bool):
        return _json_int(code, f"{what}.code", _INT32) == _STATUS_CODE_ERROR
    raise _JsonError(f"{what}.code: expected an integer status code, got {code!r}")


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _JsonError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _json_span(span: Any, resource_attributes: dict[str, Any], what: str) -> SpanRecord:
    span = _json_object(span, what)
    name = span.get("name", "")
    if not isinstance(name, str):
        raise _JsonError(f"{what}.name: expected a string")
    events = []
    for e_index, event in enumerate(_expect_list(span.get("events"), f"{what}.events")):
        event_what = f"{what}.events[{e_index}]"
        event = _json_object(event, event_what)
        event_name = event.get("name", "")
        if not isinstance(event_name, str):
            raise _JsonError(f"{event_what}.name: expected a string")
        events.append(
            SpanEvent(
                event_name, _json_attributes(event.get("attributes"), f"{event_what}.attributes")
            )
        )
    start = span.get("startTimeUnixNano", 0)
    end = span.get("endTimeUnixNano", 0)
    return SpanRecord(
        _json_id(span.get("traceId"), 16, f"{what}.traceId"),
        _json_id(span.get("spanId"), 8, f"{what}.spanId"),
        name,
        start
        if type(start) is int and 0 <= start <= _UINT64_MAX
        else _json_int(start, f"{what}.startTimeUnixNano", _UINT64),
        end
        if type(end) is int and 0 <= end <= _UINT64_MAX
        else _json_int(end, f"{what}.endTimeUnixNano", _UINT64),
        _json_status_error(span.get("status"), f"{what}.status"),
        _json_attributes(span.get("attributes"), f"{what}.attributes"),
        events,
        resource_attributes,
        _json_parent_id(span.get("parentSpanId"), f"{what}.parentSpanId"),
    )


def decode_json(body: bytes) -> list[SpanRecord]:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest``; raise :class:`DecodeError` if malformed.

    Unknown keys are ignored, as the OTLP specification asks of JSON receivers.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise DecodeError("body is not valid JSON: nested too deeply") from None
    try:
        document = _json_object(document, "request")
        records: list[SpanRecord] = []
        resource_list = _expect_list(document.get("resourceSpans"), "resourceSpans")
        for r_index, resource_spans in enumerate(resource_list):
            r_what = f"resourceSpans[{r_index}]"
            resource_spans = _json_object(resource_spans, r_what)
            resource = resource_spans.get("resource")
            resource_attributes = (
                _json_attributes(
                    _json_object(resource, f"{r_what}.resource").get("attributes"),
                    f"{r_what}.resource.attributes",
                )
                if resource is not None
                else {}
            )
            scope_list = _expect_list(resource_spans.get("scopeSpans"), f"{r_what}.scopeSpans")
            for s_index, scope_spans in enumerate(scope_list):
                s_what = f"{r_what}.scopeSpans[{s_index}]"
                scope_spans = _json_object(scope_spans, s_what)
                spans = _expect_list(scope_spans.get("spans"), f"{s_what}.spans")
                records.extend(
                    _json_span(span, resource_attributes, f"{s_what}.spans[{index}]")
                    for index, span in enumerate(spans)
                )
        return records
    except _JsonError as exc:
        raise DecodeError(f"invalid OTLP/JSON trace request: {exc}") from None
    except RecursionError:
        raise DecodeError("invalid OTLP/JSON trace request: values nested too deeply") from None
