"""Collector benchmarks, side by side in one run (``make bench-collector``).

1. Engine path: OTLP protobuf decode + KPI engine + metric update, spans/s on 512-span
   requests, beside the Python "floor" (bare ``ParseFromString`` + a walk of every span's
   attributes into a dict) and the ratio; the JSON path (our ``json.loads`` walk) beside
   ``google.protobuf.json_format.Parse``.
2. End to end over loopback: the real ``aikpi-collector`` process, OTLP/HTTP (httpx client,
   keep-alive, pre-encoded bodies) and OTLP/gRPC: requests/s and spans/s.
3. Scrape: render time of ``/metrics`` with 2,000 label sets in every KPI metric.

Every figure is the median of several runs. The machine may be shared and noisy: compare
the columns of one run, not runs on different days.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aikpi import semconv
from aikpi_collector.config import load_config
from aikpi_collector.decode import decode_json, decode_protobuf
from aikpi_collector.engine import KpiEngine
from aikpi_collector.exposition import render_metrics
from aikpi_collector.gc_tuning import GEN0_THRESHOLD, restore_gc, tune_gc
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from prometheus_client import CollectorRegistry

SPANS_PER_REQUEST = 512
RUNS = 7
WORKFLOWS = ("incident-triage", "billing-dispute", "code-review", "onboarding", "refund")
STEPS = ("classify", "draft-reply", "summarise", "route")
TEAMS = ("alpha", "beta", "gamma")
MODELS = {"gpt-4o": "openai", "claude-sonnet-4": "anthropic", "self-hosted-llm": "self-hosted"}
"""Model -> its GenAI provider name (the self-hosted one is priced by a config override)."""
OUTCOMES = tuple(o.value for o in semconv.Outcome)
POLICIES = ("pii-in-prompt", "unapproved-model")


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def _span(rng: random.Random, name: str, attrs: dict[str, Any], error: bool = False) -> Span:
    start = 1_700_000_000_000_000_000 + rng.randrange(10**12)
    return Span(
        trace_id=rng.randbytes(16),
        span_id=rng.randbytes(8),
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + rng.randrange(10**6, 10**11),
        attributes=[_kv(k, v) for k, v in attrs.items()],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def make_request(
    rng: random.Random,
    dims_pool: list[dict[str, str]] | None = None,
    violation_every: int = 8,
) -> bytes:
    """One 512-span request: runs of (workflow, step with outcome, two LLM calls).

    ``dims_pool``: label dimensions used in turn (else random from small sets).
    """
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([_kv("service.name", "bench")])
    spans = resource_spans.scope_spans.add().spans
    for i in range(SPANS_PER_REQUEST // 4):
        if dims_pool is not None:
            dims: dict[str, Any] = dict(dims_pool[i % len(dims_pool)])
        else:
            dims = {
                semconv.WORKFLOW_NAME: rng.choice(WORKFLOWS),
                semconv.STEP_NAME: rng.choice(STEPS),
                semconv.COHORT: rng.choice(("ai_assisted", "baseline")),
                semconv.TEAM: rng.choice(TEAMS),
            }
        dims[semconv.CORRELATION_ID] = f"run-{rng.randrange(10**9)}"
        workflow_dims = {k: v for k, v in dims.items() if k != semconv.STEP_NAME}
        spans.append(
            _span(
                rng,
                "workflow",
                {
                    **workflow_dims,
                    semconv.SPAN_TYPE: "workflow",
                    semconv.WORKFLOW_STATUS: "completed",
                },
            )
        )
        step = _span(
            rng,
            "step",
            {
                **dims,
                semconv.SPAN_TYPE: "step",
                semconv.OUTCOME: OUTCOMES[i % len(OUTCOMES)],
                semconv.REVIEW_SECONDS: rng.uniform(1, 600),
                semconv.CORRECTION_SECONDS: rng.uniform(0, 300),
            },
            error=i % 17 == 0,
        )
        if i % violation_every == 0:  # a governance violation now and then
            event = step.events.add()
            event.name = semconv.POLICY_VIOLATION_EVENT
            event.time_unix_nano = step.end_time_unix_nano
            event.attributes.append(_kv(semconv.POLICY_NAME, POLICIES[i % len(POLICIES)]))
        spans.append(step)
        for _ in range(2):
            model = rng.choice(list(MODELS))
            spans.append(
                _span(
                    rng,
                    "chat",
                    {
                        **dims,
                        semconv.GEN_AI_OPERATION_NAME: "chat",
                        semconv.GEN_AI_REQUEST_MODEL: model,
                        semconv.GEN_AI_PROVIDER_NAME: MODELS[model],
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: rng.randrange(100, 5000),
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: rng.randrange(10, 1000),
                        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: rng.randrange(0, 100),
                    },
                )
            )
    return request.SerializeToString()


def to_otlp_json(body: bytes, hex_ids: bool) -> bytes:
    """OTLP/JSON of a protobuf body (hex ids), or json_format's own form (base64 ids)."""
    document = json_format.MessageToDict(
        ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True
    )
    if hex_ids:
        import base64

        for rs in document["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    for key in ("traceId", "spanId"):
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def floor(body: bytes) -> int:
    """The Python floor: parse, then walk every span's attributes into a dict."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    count = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {}
                for kv in span.attributes:
                    value = kv.value
                    attributes[kv.key] = getattr(value, value.WhichOneof("value"))
                count += 1
    return count


def bench_config() -> Any:
    """Default config, plus a price for the self-hosted model (no unpriced-model log)."""
    return load_config(
        price_overrides={"self-hosted-llm": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}}
    )


def median_rate(work: Callable[[], int], runs: int = RUNS) -> float:
    """Median over ``runs`` of items/s, where ``work`` returns the items it handled."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        items = work()
        rates.append(items / (time.perf_counter() - started))
    return statistics.median(rates)


def interleaved_rates(works: list[Callable[[], int]], runs: int = RUNS) -> list[float]:
    """Median items/s of each ``work``, run in turn each round so noise hits all alike."""
    rates: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for index, work in enumerate(works):
            started = time.perf_counter()
            items = work()
            rates[index].append(items / (time.perf_counter() - started))
    return [statistics.median(r) for r in rates]


ENGINE_ROUNDS = 15
"""Rounds of the engine section; each round times the floor, then the engine, on one batch."""


def ratio_rounds(
    floor_work: Callable[[list[bytes]], int],
    engine_work: Callable[[list[bytes]], int],
    batches: list[list[bytes]],
) -> tuple[float, float, list[float]]:
    """Median floor and engine rates (items/s) and the engine/floor ratio of every round.

    The two alternate within each round on the same batch, so a burst of noise on a shared
    machine hits both sides of a ratio alike; the median ratio of the rounds and its spread
    are what to compare, not the absolute rates.
    """
    floors, engines, ratios = [], [], []
    for batch in batches:
        started = time.perf_counter()
        items = floor_work(batch)
        floor_rate = items / (time.perf_counter() - started)
        started = time.perf_counter()
        items = engine_work(batch)
        engine_rate = items / (time.perf_counter() - started)
        floors.append(floor_rate)
        engines.append(engine_rate)
        ratios.append(engine_rate / floor_rate)
    return statistics.median(floors), statistics.median(engines), ratios


def _spread(ratios: list[float]) -> str:
    quartiles = statistics.quantiles(ratios, n=4)
    return (
        f"median of {len(ratios)} rounds; quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}"
    )


def bench_engine_path(results: list[tuple[str, str, str]]) -> None:
    rng = random.Random(1)
    per_round = 8
    # fresh span ids for every round (a repeated id would be dropped as a retry), one
    # long-lived engine warmed up first, as in a running collector
    batches = [[make_request(rng) for _ in range(per_round)] for _ in range(ENGINE_ROUNDS + 1)]
    config = bench_config()
    engine = KpiEngine(config, CollectorRegistry())

    def engine_work(batch: list[bytes]) -> int:
        return sum(
            engine.process_batch(decode_protobuf(body), "http_protobuf").accepted for body in batch
        )

    def floor_work(batch: list[bytes]) -> int:
        return sum(floor(body) for body in batch)

    engine_work(batches[0])  # warm-up: label sets, price lookups
    # the garbage-collector settings of ``aikpi-collector serve``, for every column alike
    previous_gc = tune_gc()
    try:
        floor_rate, full_rate, ratios = ratio_rounds(floor_work, engine_work, batches[1:])
        decode_rate = median_rate(lambda: sum(len(decode_protobuf(b)) for b in batches[0]))
    finally:
        restore_gc(previous_gc)
    results.append(
        (
            "floor: ParseFromString + attribute walk",
            f"{floor_rate:,.0f} spans/s",
            f"with serve's GC settings (gc.freeze, gen0 {GEN0_THRESHOLD:,})",
        )
    )
    results.append(
        (
            "decode_protobuf only",
            f"{decode_rate:,.0f} spans/s",
            f"{decode_rate / floor_rate:.2f} x floor (separate rounds)",
        )
    )
    results.append(
        (
            "decode + engine + update (protobuf)",
            f"{full_rate:,.0f} spans/s",
            f"{statistics.median(ratios):.2f} x floor, {_spread(ratios)}",
        )
    )

    bodies = batches[0]
    json_batches = [
        [to_otlp_json(make_request(rng), hex_ids=True) for _ in range(2)] for _ in range(RUNS + 1)
    ]
    json_bodies = json_batches[0]
    b64_bodies = [to_otlp_json(b, hex_ids=False) for b in bodies[:2]]
    json_engine = KpiEngine(config, CollectorRegistry())
    pending = iter(json_batches[1:])

    def json_engine_work() -> int:
        return sum(
            json_engine.process_batch(decode_json(body), "http_json").accepted
            for body in next(pending)
        )

    ours, json_full = interleaved_rates(
        [lambda: sum(len(decode_json(b)) for b in json_bodies), json_engine_work]
    )

    def json_format_parse() -> int:
        total = 0
        for payload in b64_bodies:
            request = json_format.Parse(payload, ExportTraceServiceRequest())
            total += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        return total

    theirs = median_rate(json_format_parse, runs=3)
    results.append(
        (
            "JSON: json.loads + dict walk (ours)",
            f"{ours:,.0f} spans/s",
            f"{ours / theirs:.1f} x json_format.Parse",
        )
    )
    results.append(("JSON: json_format.Parse (to protobuf only)", f"{theirs:,.0f} spans/s", ""))
    results.append(("JSON: decode + engine + update", f"{json_full:,.0f} spans/s", ""))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_end_to_end(results: list[tuple[str, str, str]]) -> None:
    import grpc
    import httpx

    rng = random.Random(2)
    rounds = 3
    # (label, worker, clients, requests per client): every request is sent once
    plans = [("OTLP/HTTP", 4, 8), ("OTLP/HTTP", 32, 2), ("OTLP/gRPC", 4, 8)]
    # every request has fresh span ids: nothing is dropped as a duplicate
    bodies = [make_request(rng) for _ in range(rounds * sum(c * n for _, c, n in plans))]
    ports = {k: _free_port() for k in ("otlp_http_port", "otlp_grpc_port", "metrics_port")}
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "bench.yaml"
        config_path.write_text(
            "\n".join(f"{k}: {v}" for k, v in ports.items()) + "\nlog_level: WARNING\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "aikpi_collector", "--config", str(config_path)],
            stderr=subprocess.DEVNULL,
        )
        try:
            ready = f"http://127.0.0.1:{ports['metrics_port']}/readyz"
            for _ in range(300):
                try:
                    with urllib.request.urlopen(ready, timeout=1):
                        break
                except OSError:
                    time.sleep(0.05)
            url = f"http://127.0.0.1:{ports['otlp_http_port']}/v1/traces"
            headers = {"Content-Type": "application/x-protobuf"}
            next_body = iter(range(10**9))
            lock = threading.Lock()

            def http_worker(count: int) -> None:
                with httpx.Client(timeout=30) as client:
                    for _ in range(count):
                        with lock:
                            body = bodies[next(next_body)]
                        response = client.post(url, content=body, headers=headers)
                        response.raise_for_status()

            channel = grpc.insecure_channel(f"127.0.0.1:{ports['otlp_grpc_port']}")
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                request_serializer=None,
                response_deserializer=None,
            )

            def grpc_worker(count: int) -> None:
                for _ in range(count):
                    with lock:
                        body = bodies[next(next_body)]
                    export(body, timeout=30)

            workers = {"OTLP/HTTP": http_worker, "OTLP/gRPC": grpc_worker}
            for label, threads, per_thread in plans:
                rates = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    pool = [
                        threading.Thread(target=workers[label], args=(per_thread,))
                        for _ in range(threads)
                    ]
                    for thread in pool:
                        thread.start()
                    for thread in pool:
                        thread.join()
                    rates.append(per_thread * threads / (time.perf_counter() - started))
                rps = statistics.median(rates)
                results.append(
                    (
                        f"end to end {label}, {threads} clients, 512-span requests",
                        f"{rps:,.1f} req/s",
                        f"{rps * SPANS_PER_REQUEST:,.0f} spans/s",
                    )
                )
            channel.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def bench_scrape(results: list[tuple[str, str, str]]) -> None:
    config = bench_config()
    registry = CollectorRegistry()
    engine = KpiEngine(config, registry)
    limit = config.cardinality_limit
    pool = [
        {
            semconv.WORKFLOW_NAME: f"workflow-{i % 50}",
            semconv.STEP_NAME: f"step-{i // 50}",
            semconv.COHORT: "ai_assisted",
            semconv.TEAM: f"team-{i % 7}",
        }
        for i in range(limit)
    ]
    rng = random.Random(3)
    # every dims set at least once: steps/outcomes/histograms/tokens all reach the limit
    for start in range(0, limit, SPANS_PER_REQUEST // 4):
        chunk = pool[start : start + SPANS_PER_REQUEST // 4]
        body = make_request(random.Random(start), dims_pool=chunk, violation_every=1)
        engine.process_batch(decode_protobuf(body), "in_process")
    for _ in range(20):
        offset = rng.randrange(limit)
        chunk = (pool[offset:] + pool[:offset])[: SPANS_PER_REQUEST // 4]
        body = make_request(rng, dims_pool=chunk, violation_every=1)
        engine.process_batch(decode_protobuf(body), "in_process")
    text = render_metrics(registry, None)[0].decode()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    times = []
    om_times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        render_metrics(registry, None)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        render_metrics(registry, "application/openmetrics-text; version=1.0.0")
        om_times.append(time.perf_counter() - started)
    sets = {}
    for line in text.splitlines():
        if line.startswith("aikpi_") and "{" in line and not line.startswith("aikpi_collector"):
            name = line.split("{", 1)[0]
            sets[name] = sets.get(name, 0) + 1
    per_metric = ", ".join(
        f"{n.removeprefix('aikpi_')}={c}"
        for n, c in sorted(sets.items())
        if n.endswith(("_total", "_count", "_hour"))
    )
    results.append(
        (
            f"scrape render, Prometheus text ({series:,} samples, {len(text) / 1e6:.1f} MB)",
            f"{statistics.median(times) * 1000:,.0f} ms",
            "target < 500 ms",
        )
    )
    results.append(
        (
            "scrape render, OpenMetrics with exemplars",
            f"{statistics.median(om_times) * 1000:,.0f} ms",
            "",
        )
    )
    print(f"scrape workload, label sets per metric: {per_metric}", flush=True)


def profile_engine_path(top: int = 25) -> None:
    """cProfile of decode + engine + update on 512-span requests (a warm engine, as in the
    benchmark), sorted by own time: where the engine path spends it."""
    import cProfile
    import pstats

    rng = random.Random(1)
    bodies = [make_request(rng) for _ in range(24)]
    engine = KpiEngine(bench_config(), CollectorRegistry())
    for body in bodies[:8]:  # warm-up: price lookups, label sets
        engine.process_batch(decode_protobuf(body), "http_protobuf")
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies[8:]:
        engine.process_batch(decode_protobuf(body), "http_protobuf")
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


SECTIONS: dict[str, Callable[[list[tuple[str, str, str]]], None]] = {
    "engine": bench_engine_path,
    "e2e": bench_end_to_end,
    "scrape": bench_scrape,
}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SECTIONS),
        help="run only this section (repeatable); default: all, in order",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of the decode + engine path instead of benchmarking",
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile_engine_path()
        return 0
    results: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    print(f"aikpi collector benchmarks (median of {RUNS} runs; CPUs: {os.cpu_count()})", flush=True)
    for name, section in SECTIONS.items():
        if not args.only or name in args.only:
            section(results)
    width = max(len(r[0]) for r in results)
    print()
    for name, value, note in results:
        print(f"{name:<{width}}  {value:>18}  {note}")
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; a shared machine is noisy: "
        "compare columns within one run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
