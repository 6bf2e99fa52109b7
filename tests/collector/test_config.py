"""Collector configuration: defaults, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from aikpi_collector.config import (
    DEFAULT_TIME_BUCKETS_SECONDS,
    CollectorConfig,
    ConfigError,
    load_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def labor_rate(config: CollectorConfig, team: str) -> float:
    """USD per hour of ``team``'s human time: its own rate, else the default."""
    return config.labor_cost.teams.get(team, config.labor_cost.default_usd_per_hour)


def test_defaults_without_a_file() -> None:
    config = load_config()
    assert config.host == "127.0.0.1"
    assert (config.otlp_http_port, config.otlp_grpc_port, config.metrics_port) == (4318, 4317, 9464)
    assert config.cardinality_limit == 2000
    assert config.time_buckets_seconds == DEFAULT_TIME_BUCKETS_SECONDS
    assert labor_rate(config, "any-team") == 60.0
    assert config.max_connections == 1024
    assert config.header_read_timeout_seconds == 10.0
    assert config.body_read_timeout_seconds == 30.0
    assert config.idle_timeout_seconds == 60.0
    assert config.memory_budget_bytes == 1 << 30


def test_file_values_and_command_line_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "metrics_port: 9999\n"
        "otlp_http_port: 5000\n"
        "labor_cost: {default_usd_per_hour: 80, teams: {sre: 120}}\n"
        "price_overrides: {my-llama: {input_per_mtok: 0.1, output_per_mtok: 0.2}}\n",
    )
    config = load_config(path, otlp_http_port=6000, otlp_grpc_port=None)
    assert config.metrics_port == 9999
    assert config.otlp_http_port == 6000  # the flag wins over the file
    assert config.otlp_grpc_port == 4317  # None means "not given"
    assert labor_rate(config, "sre") == 120
    assert labor_rate(config, "support") == 80
    assert config.price_overrides["my-llama"].output_per_mtok == 0.2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics_prot: 1\n", "metrics_prot: unknown key; allowed keys: host"),
        ("metrics_port: lots\n", "metrics_port: Input should be a valid integer"),
        ("metrics_port: 70000\n", "metrics_port: Input should be less than or equal to 65535"),
        ("cardinality_limit: 0\n", "cardinality_limit: Input should be greater than 0"),
        ("label_keys: [workflow, user_id]\n", "unknown label key(s) ['user_id']"),
        ("time_buckets_seconds: [5, 1]\n", "strictly increasing"),
        ("labor_cost: {teams: {sre: -1}}\n", "labor_cost.teams"),
        (
            "labor_cost: {rate: 3}\n",
            "labor_cost.rate: unknown key; allowed keys: default_usd_per_hour, teams",
        ),
        (
            "price_overrides: {m: {input_per_mtok: 1, output_per_mtok: 1, typo: 2}}\n",
            "price_overrides.m.typo: unknown key; allowed keys: input_per_mtok",
        ),
        ("max_connections: 0\n", "max_connections: Input should be greater than 0"),
        ("body_read_timeout_seconds: 0\n", "body_read_timeout_seconds: Input should be greater"),
        ("idle_timeout_seconds: -1\n", "idle_timeout_seconds: Input should be greater than 0"),
        ("header_read_timeout_seconds: 1e9\n", "header_read_timeout_seconds: Input should be less"),
        (
            "memory_budget_bytes: 100000000\n",
            "memory_budget_bytes must be at least 830472192 (max_request_bytes x 99",
        ),
        ("- just\n- a list\n", "must hold a mapping"),
        ("key: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_config_names_the_key_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, text))
    assert expected in str(excinfo.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_tls_and_auth_files_are_read_from_the_config_files_directory(tmp_path: Path) -> None:
    from support.certs import make_pki

    pki = make_pki(tmp_path)
    (tmp_path / "otlp.token").write_text("s3cret-token\n", encoding="utf-8")
    path = write(
        tmp_path,
        "tls: {cert_file: pki/server.pem, key_file: pki/server-key.pem,\n"
        "      client_ca_file: pki/ca.pem}\n"
        "auth: {bearer_token_file: otlp.token}\n",
    )
    config = load_config(path)
    assert config.tls is not None
    assert config.tls.cert_file == pki.server_cert
    assert config.tls.client_ca_file == pki.ca_cert
    assert config.auth.bearer_token_file == tmp_path / "otlp.token"
    assert config.auth.metrics_bearer_token_file is None
    assert load_config().tls is None  # absent: plaintext


@pytest.mark.parametrize(
    ("text", "token", "expected"),
    [
        ("tls: {cert_file: a.pem, key_file: b.pem}\n", None, "tls.cert_file: Value error, no such"),
        ("tls: {cert_file: collector.yaml}\n", None, "tls.key_file: Field required"),
        ("tls: {cert: a.pem}\n", None, "tls.cert: unknown key; allowed keys: cert_file"),
        (
            "tls: {cert_file: collector.yaml, key_file: collector.yaml}\n",
            None,
            "cannot load the certificate",
        ),
        ("auth: {bearer_token_file: t}\n", "\n", "is empty"),
        ("auth: {bearer_token_file: t}\n", "two words\n", "must be one word"),
        ("auth: {metrics_bearer_token_file: nope}\n", None, "cannot read token file"),
        ("auth: {token: x}\n", None, "auth.token: unknown key; allowed keys: bearer_token_file"),
    ],
)
def test_bad_tls_or_auth_settings_name_the_key(
    tmp_path: Path, text: str, token: str | None, expected: str
) -> None:
    if token is not None:
        (tmp_path / "t").write_text(token, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, text))
    assert expected in str(excinfo.value)
    if token and token.strip():
        assert token.strip() not in str(excinfo.value)  # a secret never reaches the logs
