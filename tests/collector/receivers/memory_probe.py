"""Measure the collector's peak memory under concurrent large bodies (loopback, bounded).

Used by ``test_memory_bound.py`` and runnable by hand for the figure in docs/collector.md::

    .venv/bin/python tests/collector/receivers/memory_probe.py --shape worst \\
        --size 8388608 --concurrency 32

starts a real collector process (its config from the options), sends ``--concurrency``
bodies at once over OTLP/HTTP, and prints its resident memory before the load and at its
peak (``VmRSS`` then ``VmHWM`` from ``/proc``), with the answers' status codes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for support.*

from support.collector import running_collector
from support.otlp_workload import build_spans, make_runs, request_of

__all__ = ("body_of", "measure")

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _realistic(size: int) -> bytes:
    """SDK-made workflow, step and LLM spans (distinct span ids), about ``size`` bytes."""
    unit = request_of(build_spans(make_runs(50)))
    request = ExportTraceServiceRequest()
    serial = 0
    while request.ByteSize() < size - unit.ByteSize():
        for resource_spans in unit.resource_spans:
            added = request.resource_spans.add()
            added.CopyFrom(resource_spans)
            for scope_spans in added.scope_spans:
                for span in scope_spans.spans:
                    serial += 1
                    span.span_id = serial.to_bytes(8, "big")
    return request.SerializeToString()


def _worst(size: int) -> bytes:
    """One span with empty events (2 bytes each on the wire): the costliest body to decode
    per byte that still counts (the decoded events become Python objects)."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(1, 17))
    span.span_id = bytes(range(1, 9))
    body = request.SerializeToString()
    events = (size - len(body) - 16) // 2
    for _ in range(events):
        span.events.add()
    return request.SerializeToString()


SHAPES = {"realistic": _realistic, "worst": _worst}


def body_of(shape: str, size: int) -> bytes:
    """A protobuf body of about ``size`` bytes in ``shape`` (realistic or worst)."""
    return SHAPES[shape](size)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def measure(
    workdir: Path, config: dict[str, Any], bodies: list[bytes], concurrency: int
) -> dict[str, Any]:
    """Start a collector with ``config``, warm it up, send ``bodies`` ``concurrency`` at a
    time; returns resident bytes before the load and at the peak, and the status codes."""
    with running_collector(workdir, config) as collector:
        pid = collector.process.pid
        warm = request_of(build_spans(make_runs(3))).SerializeToString()
        httpx.post(collector.traces_url, content=warm, headers=PROTOBUF, timeout=30)
        collector.samples()  # the first scrape's imports too
        time.sleep(0.5)
        before = _status_kb(pid, "VmRSS")

        def send(body: bytes) -> int:
            response = httpx.post(collector.traces_url, content=body, headers=PROTOBUF, timeout=120)
            return response.status_code

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            statuses = Counter(pool.map(send, bodies))
        peak = _status_kb(pid, "VmHWM")
    return {
        "rss_before_bytes": before,
        "rss_peak_bytes": peak,
        "peak_over_before_bytes": peak - before,
        "statuses": dict(statuses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="worst")
    parser.add_argument("--size", type=int, default=8 * 1024 * 1024, help="bytes per body")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--budget", type=int, help="memory_budget_bytes (default: the default)")
    parser.add_argument("--max-request-bytes", type=int, help="max_request_bytes (default: size)")
    args = parser.parse_args(argv)
    if not 0 < args.concurrency <= 64:
        parser.error("concurrency must be 1..64")
    config: dict[str, Any] = {
        "max_request_bytes": args.max_request_bytes or max(args.size, 8 * 1024 * 1024),
        "log_level": "WARNING",
    }
    if args.budget:
        config["memory_budget_bytes"] = args.budget
    body = body_of(args.shape, args.size)
    with tempfile.TemporaryDirectory() as workdir:
        result = measure(Path(workdir), config, [body] * args.concurrency, args.concurrency)
    result.update(shape=args.shape, body_bytes=len(body), concurrency=args.concurrency)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
