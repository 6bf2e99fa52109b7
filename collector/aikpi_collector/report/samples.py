"""The report's input: flat metric samples, whichever source they came from.

Both sources (a collector's ``/metrics`` page and a Prometheus window) are reduced to the same
list of ``(sample name, labels, value)``; every KPI is a sum over a label selection of these,
so the KPI code never knows where the numbers came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aikpi_collector.report.stats import Histogram

__all__ = ("MetricSamples", "Sample", "Selector")

Selector = Mapping[str, str | tuple[str, ...]]
"""Label name -> required value, or a tuple of accepted values."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: e.g. ``aikpi_steps_total{workflow="x",...} 12``."""

    name: str
    labels: Mapping[str, str]
    value: float


def _matches(labels: Mapping[str, str], selector: Selector) -> bool:
    """Prometheus matching: a label the sample lacks (e.g. ``team`` dropped from the
    collector's label keys) has the value ``""``."""
    for key, wanted in selector.items():
        value = labels.get(key, "")
        if isinstance(wanted, tuple):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


class MetricSamples:
    """Samples indexed by name, with the sums the KPI formulas need."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._by_name: dict[str, list[Sample]] = {}
        for sample in samples:
            if math.isnan(sample.value):
                continue
            self._by_name.setdefault(sample.name, []).append(sample)

    def select(self, name: str, selector: Selector | None = None) -> list[Sample]:
        """Samples of ``name`` whose labels match ``selector``."""
        samples = self._by_name.get(name, [])
        if not selector:
            return list(samples)
        return [s for s in samples if _matches(s.labels, selector)]

    def total(self, name: str, selector: Selector | None = None) -> float:
        """Sum of the matching samples (0 when none)."""
        return sum(s.value for s in self.select(name, selector))

    def by_label(self, name: str, label: str, selector: Selector | None = None) -> dict[str, float]:
        """Sums of the matching samples grouped by the value of ``label``."""
        groups: dict[str, float] = {}
        for sample in self.select(name, selector):
            key = sample.labels.get(label, "")
            groups[key] = groups.get(key, 0.0) + sample.value
        return groups

    def label_values(self, name: str, label: str, selector: Selector | None = None) -> set[str]:
        """Distinct values of ``label`` among the matching samples."""
        return {s.labels[label] for s in self.select(name, selector) if label in s.labels}

    def histogram(self, base: str, selector: Selector | None = None) -> Histogram:
        """The histogram ``base`` summed over every series matching ``selector``."""
        buckets: dict[float, float] = {}
        for sample in self.select(f"{base}_bucket", selector):
            bound = float(sample.labels.get("le", "+Inf"))
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
        count = self.total(f"{base}_count", selector)
        if not buckets and count == 0:
            return Histogram.empty()
        return Histogram.from_buckets(buckets, self.total(f"{base}_sum", selector), count)
