"""SLO spec and Prometheus rule generator for the AI-outcome error budget.

``aikpi-collector rules SPEC.yaml --output-dir DIR`` reads an :class:`SLOSpec` and writes
Sloth-compatible recording rules (``slo:sli_error:ratio_rate5m`` ...) plus multiwindow,
multi-burn-rate alerts; see ``grafana/slo.yaml`` and ``docs/deploy.md``.
"""

from aikpi_collector.slo.generate import generated_files, render_rules
from aikpi_collector.slo.spec import (
    SRE_WORKBOOK_WINDOWS,
    AlertWindow,
    SLOSpec,
    SpecError,
    load_spec,
    parse_duration,
)

__all__ = (
    "SRE_WORKBOOK_WINDOWS",
    "AlertWindow",
    "SLOSpec",
    "SpecError",
    "generated_files",
    "load_spec",
    "parse_duration",
    "render_rules",
)
