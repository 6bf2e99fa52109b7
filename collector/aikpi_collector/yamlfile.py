"""Read a YAML file that must hold a mapping, with errors that say which file and why, and
the key checks the spec files share.

Shared by the collector config, the SLO spec and pilot plans so all fail the same readable way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

__all__ = ("check_name", "check_workflow_names", "read_yaml_mapping")

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def read_yaml_mapping(path: str | Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The mapping in ``path`` (empty file = ``{}``); else ``error`` naming ``what`` it is."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a mapping of keys to values")
    return data


def check_name(value: str) -> str:
    """A spec's ``name``: it becomes a label value and part of file names."""
    if not _NAME.match(value):
        raise ValueError("must be lowercase letters, digits and '-', starting with a letter")
    return value


def check_workflow_names(names: Iterable[str]) -> None:
    """Workflow names that go into PromQL strings and regexes unescaped by their author."""
    for name in names:
        if not name or '"' in name or "\\" in name or "\n" in name:
            raise ValueError(f"workflow name {name!r} is empty or holds a quote or backslash")
