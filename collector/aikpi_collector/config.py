"""Collector configuration: one validated model for the YAML file and the command line.

Validation is pydantic's (unknown keys, wrong types and bad values are refused with the key
named); :func:`load_config` turns a failure into :class:`ConfigError`, which the CLI prints
and exits with status 2.
"""

from __future__ import annotations

import itertools
import math
import ssl
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aikpi_collector.yamlfile import read_yaml_mapping

__all__ = (
    "DECODE_MEMORY_FACTOR",
    "DEFAULT_LABEL_KEYS",
    "DEFAULT_TIME_BUCKETS_SECONDS",
    "AuthConfig",
    "CollectorConfig",
    "ConfigError",
    "LaborCost",
    "ModelPrice",
    "TlsConfig",
    "load_config",
)

DEFAULT_LABEL_KEYS = (
    "workflow",
    "step",
    "cohort",
    "team",
    "model",
    "outcome",
    "status",
    "token_type",
    "policy",
)
"""Every label key the metric catalogue knows; a config may keep fewer."""

DEFAULT_TIME_BUCKETS_SECONDS = (
    0.1,
    0.5,
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    4 * 3600.0,
    8 * 3600.0,
    24 * 3600.0,
    3 * 24 * 3600.0,
    7 * 24 * 3600.0,
)
"""Histogram bucket bounds from sub-second model calls to week-long human decisions."""


DECODE_MEMORY_FACTOR = {"protobuf": 96, "json": 64}
"""Peak memory of decoding and counting one request body, per byte of (inflated) body, in
the worst case, by encoding. Measured (docs/collector.md, "Memory";
``tests/collector/receivers/test_memory_bound.py``): a body made of empty sub-messages
(spans, events, links: two bytes each on the wire) costs up to ~90 bytes per byte in
protobuf (the parsed message plus a Python object per event) and ~60 in JSON; spans made by
an SDK cost about 4 (protobuf) and 8 (JSON). ``memory_budget_bytes`` charges the worst case,
so no body shape can take the process past its bound."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelPrice(_Strict):
    """A per-model price override in US dollars per million tokens (negotiated or self-hosted)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(default=None, ge=0)
    """Defaults to the input price when not given."""
    cache_creation_per_mtok: float | None = Field(default=None, ge=0)
    """Defaults to the input price when not given."""


class LaborCost(_Strict):
    """Loaded labour cost of human time, used by the value formulas."""

    default_usd_per_hour: float = Field(default=60.0, ge=0)
    teams: dict[str, float] = Field(default_factory=dict)
    """Per-team rates (USD per hour) that replace the default for that team."""

    @field_validator("teams")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for team, rate in value.items():
            if rate < 0 or math.isnan(rate):
                raise ValueError(f"rate for team {team!r} must be >= 0, got {rate}")
        return value


class TlsConfig(_Strict):
    """Server TLS of all three ports (absent: plaintext). Relative paths in a config file
    are read from the file's directory."""

    cert_file: Path
    """Server certificate (PEM, the chain after it)."""
    key_file: Path
    """Its private key (PEM, unencrypted)."""
    client_ca_file: Path | None = None
    """When set, clients must present a certificate signed by this CA (mTLS) on every port."""

    @field_validator("cert_file", "key_file", "client_ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {str(value)!r}")
        return value

    @model_validator(mode="after")
    def _loads(self) -> TlsConfig:
        from aikpi_collector.security import ServerTls, server_ssl_context

        try:
            server_ssl_context(ServerTls(self.cert_file, self.key_file, self.client_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the certificate, key or client CA: {exc}") from exc
        return self


class AuthConfig(_Strict):
    """Bearer-token authentication. Each file holds one token (``openssl rand -hex 32``)."""

    bearer_token_file: Path | None = None
    """OTLP/HTTP and OTLP/gRPC require ``Authorization: Bearer <token>``."""
    metrics_bearer_token_file: Path | None = None
    """``/metrics`` requires it (``/healthz`` and ``/readyz`` stay open)."""

    @field_validator("bearer_token_file", "metrics_bearer_token_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None:
            from aikpi_collector.security import read_token

            read_token(value)
        return value


class CollectorConfig(_Strict):
    """Every setting of the collector, with its default."""

    host: str = "127.0.0.1"
    otlp_http_port: int = Field(default=4318, ge=0, le=65535)
    otlp_grpc_port: int = Field(default=4317, ge=0, le=65535)
    metrics_port: int = Field(default=9464, ge=0, le=65535)

    max_request_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Largest request body accepted (after decompression); larger gets 413."""
    max_concurrent_requests: int = Field(default=32, gt=0)
    """Requests decoded and counted at once across both transports (a request takes its
    slot once its body is in); more get HTTP 503 + Retry-After (gRPC RESOURCE_EXHAUSTED
    with RetryInfo)."""
    memory_budget_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    """Memory that requests in progress may hold together, HTTP and gRPC: the bytes of
    bodies being received, then each complete body times its worst-case decode cost
    (``DECODE_MEMORY_FACTOR``). A request that does not fit gets 503 + Retry-After."""
    retry_after_seconds: int = Field(default=1, ge=0)
    """Value of ``Retry-After`` (and gRPC RetryInfo) when over capacity."""
    max_connections: int = Field(default=1024, gt=0)
    """Open connections per HTTP port (gRPC: calls in progress); a request beyond it gets
    HTTP 503 + Retry-After (gRPC RESOURCE_EXHAUSTED with RetryInfo)."""
    header_read_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    """A new connection must send its request head within this (a keep-alive connection:
    from the first byte of its next request); else it is closed. gRPC: the handshake."""
    body_read_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """From a request's head (gRPC: the call's start) to its complete body; slower gets
    HTTP 408 (gRPC DEADLINE_EXCEEDED)."""
    idle_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    """A keep-alive connection with no request in progress is closed after this."""
    shutdown_grace_seconds: float = Field(default=5.0, ge=0, le=300)
    """After SIGTERM, how long in-flight requests may take to finish before being cut off."""
    dedup_window_spans: int = Field(default=200_000, ge=0)
    """How many recently counted span ids are remembered to drop retried exports (0 = off)."""
    decided_window_steps: int = Field(default=200_000, ge=0)
    """How many decided step ids are remembered so that a step is decided once (0 = off)."""

    label_keys: tuple[str, ...] = DEFAULT_LABEL_KEYS
    """Label keys kept on KPI metrics; a dropped key is aggregated away."""
    cardinality_limit: int = Field(default=2000, gt=0)
    """Distinct label sets per metric before new ones go to ``__overflow__``."""
    time_buckets_seconds: tuple[float, ...] = DEFAULT_TIME_BUCKETS_SECONDS
    """Histogram bucket upper bounds for every ``*_seconds`` histogram."""
    exemplars: bool = True
    """Attach trace id and correlation id exemplars (OpenMetrics) to KPI samples."""

    price_overrides: dict[str, ModelPrice] = Field(default_factory=dict)
    """Per-model prices that win over the price table (keys are model names)."""
    labor_cost: LaborCost = Field(default_factory=LaborCost)

    tls: TlsConfig | None = None
    """Server TLS on every port; ``None`` (absent): plaintext."""
    auth: AuthConfig = Field(default_factory=AuthConfig)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _budget_fits_one_request(self) -> CollectorConfig:
        # a gzip body at the limit: its wire bytes, the inflated pieces, the joined body,
        # then its decoding
        per_byte = 3 + max(DECODE_MEMORY_FACTOR.values())
        needed = self.max_request_bytes * per_byte
        if self.memory_budget_bytes < needed:
            raise ValueError(
                f"memory_budget_bytes must be at least {needed} (max_request_bytes x "
                f"{per_byte}, the worst-case cost of one request), or a request of the "
                "largest size could never be accepted"
            )
        return self

    @field_validator("label_keys")
    @classmethod
    def _known_label_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [key for key in value if key not in DEFAULT_LABEL_KEYS]
        if unknown:
            raise ValueError(
                f"unknown label key(s) {unknown}; allowed: {', '.join(DEFAULT_LABEL_KEYS)}"
            )
        return value

    @field_validator("time_buckets_seconds")
    @classmethod
    def _increasing_buckets(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("needs at least one bucket bound")
        if any(not math.isfinite(b) or b <= 0 for b in value):
            raise ValueError("bucket bounds must be finite and > 0")
        if any(b >= c for b, c in itertools.pairwise(value)):
            raise ValueError("bucket bounds must be strictly increasing")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        allowed = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value.upper()


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is allowed."""


def _section_model(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that owns the key at ``loc`` (so an unknown key lists its own siblings)."""
    model: type[BaseModel] = CollectorConfig
    for part in loc[:-1]:
        field_info = model.model_fields.get(str(part))
        annotation = field_info.annotation if field_info else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif model is CollectorConfig and part == "price_overrides":
            model = ModelPrice
        elif model is CollectorConfig and part == "tls":
            model = TlsConfig
    return model


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_section_model(tuple(item["loc"])).model_fields)
            message = f"unknown key; allowed keys: {allowed}"
        lines.append(f"{key}: {message}")
    return "invalid collector configuration:\n  " + "\n  ".join(lines)


_FILE_KEYS = {
    "tls": ("cert_file", "key_file", "client_ca_file"),
    "auth": ("bearer_token_file", "metrics_bearer_token_file"),
}


def _resolve_files(data: dict[str, Any], base: Path) -> None:
    """Relative file names in the ``tls`` and ``auth`` sections, read from ``base`` (the
    config file's directory, as Prometheus does), whatever the working directory."""
    for section, keys in _FILE_KEYS.items():
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        for key in keys:
            value = values.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                values[key] = str(base / value)


def load_config(path: str | Path | None = None, **overrides: Any) -> CollectorConfig:
    """Read the YAML file (if any), apply command-line overrides (``None`` = not given)."""
    data: dict[str, Any] = {}
    if path is not None:
        data.update(read_yaml_mapping(path, "config file", ConfigError))
        _resolve_files(data, Path(path).parent)
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return CollectorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
