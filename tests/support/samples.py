"""The report's metric samples, read back whole (the report itself only asks for names it
knows, so :class:`MetricSamples` has no listing of its own)."""

from __future__ import annotations

from aikpi_collector.report.samples import MetricSamples, Sample


def sample_names(samples: MetricSamples) -> set[str]:
    """Every sample name ``samples`` holds."""
    return set(samples._by_name)


def all_samples(samples: MetricSamples) -> list[Sample]:
    """Every sample ``samples`` holds, grouped by name."""
    return [sample for name in sample_names(samples) for sample in samples.select(name)]
