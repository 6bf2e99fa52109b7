"""``/metrics`` rendering: Prometheus text, or OpenMetrics (with exemplars) when asked.

The format (and content type) is chosen from the ``Accept`` header by
``prometheus_client``'s own ``choose_encoder``. Everything except the KPI samples (HELP and
TYPE lines, the self-metrics, the labour-cost gauge, any other collector in the registry)
is written by the encoder it returns. The KPI samples, ~156,000 at the cardinality limit,
are written by :mod:`._kpi_writer`, which produces the same lines in about a twentieth of
the time (figures in ``docs/metrics.md``). :func:`render_metrics_reference` renders
everything with ``prometheus_client`` alone: the tests prove the two equal
(``tests/collector/exposition/test_fast_exposition.py``), and
``tests/support/synthetic.py`` (``benchmark_render``) compares their speed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as _generate_text
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as _om
from prometheus_client.samples import Exemplar

from aikpi_collector.exposition._kpi_writer import write_counter, write_histogram
from aikpi_collector.exposition._text import encodable
from aikpi_collector.exposition.metrics import RAW_FAMILIES, CounterFamily, HistogramFamily

__all__ = ("OPENMETRICS_ACCEPT", "render_metrics", "render_metrics_reference")

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0"
"""An ``Accept`` header value that selects OpenMetrics (with exemplars)."""

logger = logging.getLogger(__name__)

_EOF = "# EOF\n"

_NAMES_KEPT = frozenset({_om.UNDERSCORES, _om.ALLOWUTF8})
"""Escaping schemes that leave our (legacy-valid) metric and label names as they are. For
the others (``dots``, ``values``) the whole registry goes through ``prometheus_client``."""


class _Metrics:
    """A ``collect()``-able list, to hand already collected metrics to an encoder."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def _openmetrics_or_text(encoder: Callable[..., bytes]) -> bool | None:
    """Whether ``choose_encoder``'s encoder writes OpenMetrics (True) or Prometheus text
    (False); ``None`` when the fast writer cannot reproduce it exactly."""
    func, args, keywords = encoder, (), {}
    if isinstance(encoder, partial):
        func, args, keywords = encoder.func, encoder.args, encoder.keywords
    if args or keywords.get("escaping", _om.UNDERSCORES) not in _NAMES_KEPT:
        return None
    if func is _om.generate_latest:
        return True
    if func is _generate_text:
        return False
    return None


def render_metrics_reference(
    registry: CollectorRegistry, accept_header: str | None
) -> tuple[bytes, str]:
    """The body and content type of one scrape, written by ``prometheus_client`` alone."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(registry), content_type


def _sanitized(metric: Metric) -> Metric:
    """A copy of ``metric`` whose label and exemplar values all encode as UTF-8 and whose
    exemplar timestamps are finite (the rest left out): what an encoder can always write."""
    copy = Metric(metric.name, encodable(metric.documentation), metric.type, metric.unit)
    for sample in metric.samples:
        exemplar = sample.exemplar
        if exemplar is not None:
            stamp = exemplar.timestamp
            if isinstance(stamp, float) and not math.isfinite(stamp):
                stamp = None
            exemplar = Exemplar(
                {key: encodable(value) for key, value in exemplar.labels.items()},
                exemplar.value,
                stamp,
            )
        labels = {key: encodable(value) for key, value in sample.labels.items()}
        copy.samples.append(sample._replace(labels=labels, exemplar=exemplar))
    return copy


def _unreadable(metrics: list[Metric]) -> bool:
    """Whether a label or exemplar value holds a NUL, which encoders write as it is and
    Prometheus's parser refuses (the whole scrape fails)."""
    for metric in metrics:
        for sample in metric.samples:
            if any("\x00" in value for value in sample.labels.values()):
                return True
            exemplar = sample.exemplar
            if exemplar is not None and any("\x00" in v for v in exemplar.labels.values()):
                return True
    return False


def _encode(encoder: Callable[..., bytes], metrics: list[Metric]) -> bytes:
    """``encoder`` over ``metrics``; if a stored value cannot be written (a label that is not
    valid UTF-8, say) or read back (a NUL), over sanitized copies instead, so that no value
    can fail a scrape."""
    if _unreadable(metrics):
        return encoder(_Metrics([_sanitized(metric) for metric in metrics]))
    try:
        return encoder(_Metrics(metrics))
    except (UnicodeEncodeError, ValueError, OverflowError) as exc:
        logger.warning("exposition: writing sanitized values (%s)", exc)
        return encoder(_Metrics([_sanitized(metric) for metric in metrics]))


def render_metrics(registry: CollectorRegistry, accept_header: str | None) -> tuple[bytes, str]:
    """The body and content type of one scrape of ``registry``; KPI samples written fast.

    A value that cannot be written is sanitized, never fatal (defence in depth: the engine
    refuses such values before they are stored). Any other failure raises.
    """
    encoder, content_type = choose_encoder(accept_header or "")
    openmetrics = _openmetrics_or_text(encoder)
    if openmetrics is None:
        try:
            body = encoder(registry)
        except (UnicodeEncodeError, ValueError, OverflowError) as exc:
            # prometheus_client could not write a stored value in the escaping asked for;
            # answer in the Prometheus text format, which every scraper accepts
            logger.warning("exposition: %s; answering in the text format instead", exc)
            return render_metrics(registry, None)
        if b"\x00" in body:  # a value no scraper reads back: the sanitizing writer instead
            return render_metrics(registry, None)
        return body, content_type
    token = RAW_FAMILIES.set(True)
    try:
        collected = list(registry.collect())
    finally:
        RAW_FAMILIES.reset(token)

    out: list[str] = []
    pending: list[Metric] = []  # written by the encoder, in registry order

    def flush() -> None:
        if pending:
            text = _encode(encoder, pending).decode("utf-8")
            if openmetrics:
                text = text.removesuffix(_EOF)
            out.append(text)
            pending.clear()

    for metric in collected:
        if isinstance(metric, CounterFamily):
            pending.append(metric.header_metric())
            flush()
            write_counter(metric, out, openmetrics)
        elif isinstance(metric, HistogramFamily):
            pending.append(metric.header_metric())
            flush()
            write_histogram(metric, out, openmetrics)
        else:
            pending.append(metric)
    flush()
    if openmetrics:
        out.append(_EOF)
    return "".join(out).encode("utf-8"), content_type
