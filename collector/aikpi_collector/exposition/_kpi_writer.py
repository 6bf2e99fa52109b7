"""Exposition text of the KPI families, written straight from the store.

``prometheus_client``'s generators build a ``Sample`` and a label dict per value, then sort
and escape every label at every scrape: 8-14 us per sample, seconds for a store at the
cardinality limit (~156,000 samples). Here each series' label text is escaped and sorted
once, the first time a scrape sees the series, and kept on its family (``label_text``);
a scrape only formats values, with ``prometheus_client``'s own ``floatToGoString``, and
exemplars. The lines are the ones ``prometheus_client`` writes for the families that
``CounterFamily.collect`` / ``HistogramFamily.collect`` build (the reference), in both
formats: the tests compare the two outputs sample by sample and byte for byte.

HELP and TYPE lines are not written here: :mod:`aikpi_collector.exposition.render` has
``prometheus_client`` write them from the family's :meth:`header_metric`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client.utils import floatToGoString

from aikpi_collector.exposition._text import escape_label_value, exemplar_parts

if TYPE_CHECKING:
    from aikpi_collector.exposition.metrics import CounterFamily, ExemplarContext, HistogramFamily

__all__ = ("write_counter", "write_histogram")


def _pairs(names: Sequence[str], key: Sequence[str]) -> list[tuple[str, str]]:
    """(name, ``name="value"``) sorted by label name, as ``prometheus_client`` orders them."""
    return [
        (name, f'{name}="{escape_label_value(value)}"')
        for name, value in sorted(zip(names, key, strict=True))
    ]


def _exemplar_text(context: ExemplarContext, value: float) -> str:
    """`` # {correlation_id="...",trace_id="..."} value timestamp`` (OpenMetrics only)."""
    trace_id, correlation_id, timestamp = exemplar_parts(context)
    if correlation_id is None:
        labels = f'trace_id="{trace_id}"'
    else:
        labels = f'correlation_id="{escape_label_value(correlation_id)}",trace_id="{trace_id}"'
    if timestamp is None:
        return f" # {{{labels}}} {floatToGoString(value)}"
    return f" # {{{labels}}} {floatToGoString(value)} {timestamp}"


def write_counter(family: CounterFamily, out: list[str], openmetrics: bool) -> None:
    """Append one line per series: ``name_total{labels} value`` (+ exemplar in OpenMetrics)."""
    sample = family.header_metric().name + "_total"
    names = family.label_names
    cache = family.label_text
    append = out.append
    for key, (value, context, amount) in family.snapshot():
        prefix = cache.get(key)
        if prefix is None:
            pairs = ",".join(pair for _, pair in _pairs(names, key))
            prefix = f"{sample}{{{pairs}}} " if names else f"{sample} "
            cache[key] = prefix
        if openmetrics and context is not None:
            append(f"{prefix}{floatToGoString(value)}{_exemplar_text(context, amount)}\n")
        else:
            append(f"{prefix}{floatToGoString(value)}\n")


def _histogram_text(name: str, names: Sequence[str], key: Sequence[str]) -> tuple[str, str, str]:
    """(bucket line up to the ``le`` value, bucket line after it, ``{labels}`` or "")."""
    pairs = _pairs(names, key)
    before = "".join(pair + "," for label, pair in pairs if label < "le")
    after = "".join("," + pair for label, pair in pairs if label > "le")
    block = "{" + ",".join(pair for _, pair in pairs) + "}" if pairs else ""
    return f'{name}_bucket{{{before}le="', f'"{after}}} ', block


def write_histogram(family: HistogramFamily, out: list[str], openmetrics: bool) -> None:
    """Append cumulative ``_bucket`` lines (+ exemplars in OpenMetrics), ``_count``, ``_sum``."""
    name = family.name
    count_name = name + "_count"
    sum_name = name + "_sum"
    les = family.bucket_labels
    names = family.label_names
    cache = family.label_text
    counts_text: dict[int, str] = {}  # cumulative counts repeat a lot; floatToGoString is slow
    append = out.append
    for key, (counts, total, contexts, values) in family.snapshot():
        parts = cache.get(key)
        if parts is None:
            parts = cache[key] = _histogram_text(name, names, key)
        head, tail, block = parts
        running = 0
        text = "0.0"
        for le, count, context, value in zip(les, counts, contexts, values, strict=True):
            running += count
            found = counts_text.get(running)
            if found is None:
                found = counts_text[running] = floatToGoString(running)
            text = found
            if openmetrics and context is not None:
                append(f"{head}{le}{tail}{text}{_exemplar_text(context, value)}\n")
            else:
                append(f"{head}{le}{tail}{text}\n")
        append(f"{count_name}{block} {text}\n")
        append(f"{sum_name}{block} {floatToGoString(total)}\n")
