"""Export a known workload with an official OTLP exporter configured only by the environment.

Run as a subprocess (``python export_child.py http|grpc START COUNT``) so that the
``OTEL_EXPORTER_OTLP_*`` variables the test sets apply from a clean start, exactly as in an
application. Prints ``SUCCESS`` or ``FAILURE`` and exits 0 or 1; the exporter's own log
lines go to stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*

from support.otlp_workload import build_spans, make_runs


def main(argv: list[str]) -> int:
    protocol, start, count = argv[0], int(argv[1]), int(argv[2])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter()  # everything from OTEL_EXPORTER_OTLP_* variables
    result = exporter.export(build_spans(make_runs(count, start=start)))
    exporter.shutdown()
    print(result.name, flush=True)
    return 0 if result is SpanExportResult.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
