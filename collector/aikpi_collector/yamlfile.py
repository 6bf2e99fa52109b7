"""Read a YAML file that must hold a mapping, with errors that say which file and why.

Shared by the collector config and the SLO spec so both fail the same readable way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ("read_yaml_mapping",)


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
