"""PromQL and rule-file rendering shared by the SLO and the KPI rule generators."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from aikpi_collector import catalogue as cat

__all__ = ("dump_rules", "regex_alternatives", "selector", "term_matchers", "term_series")

_REGEX_META = set("\\.+*?()|[]{}^$")


def regex_alternatives(names: Iterable[str]) -> str:
    """Names as an RE2 alternation inside a PromQL string (metacharacters escaped)."""
    escaped = ("".join("\\\\" + c if c in _REGEX_META else c for c in n) for n in names)
    return "|".join(escaped)


def selector(*matchers: str) -> str:
    """``{a="b", c=~"d"}`` from matchers (``{}`` for none)."""
    return "{" + ", ".join(matchers) + "}"


def term_matchers(term: cat.Total) -> tuple[str, ...]:
    """The label matchers of a catalogue term's ``where``."""
    matchers = []
    for label, values in term.where:
        if len(values) == 1:
            matchers.append(f'{label}="{values[0]}"')
        else:
            matchers.append(f'{label}=~"{regex_alternatives(values)}"')
    return tuple(matchers)


def term_series(term: cat.Total, *extra: str) -> str:
    """The series selector of a catalogue term, plus ``extra`` matchers."""
    matchers = (*extra, *term_matchers(term))
    return term.sample + (selector(*matchers) if matchers else "")


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings so generated PromQL stays readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_rules(document: dict[str, Any]) -> str:
    """A rule file's YAML body (block scalars for multi-line expressions)."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
