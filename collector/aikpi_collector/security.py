"""TLS and bearer-token authentication of the collector's ports (the ``tls:`` and ``auth:``
sections of the config).

One server TLS setting serves all three ports: the same certificate and key, and with
``client_ca_file`` client certificates signed by that CA are required (mTLS) on each.
Tokens are read once at start; a request's token is compared with the configured one in
constant time (SHA-256 digests of both compared with ``hmac.compare_digest``, so neither
the content nor the length leaks through timing).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import ssl
from collections.abc import Sequence
from pathlib import Path

__all__ = (
    "BearerAuth",
    "ServerTls",
    "read_token",
    "server_ssl_context",
)

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750 ``b64token``: what may follow ``Bearer `` in an ``Authorization`` header."""

WWW_AUTHENTICATE = 'Bearer realm="aikpi"'


def read_token(path: Path) -> bytes:
    """The token in ``path`` (surrounding whitespace stripped); ``ValueError`` if unusable.

    The message never contains the token itself.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read token file {str(path)!r}: {exc}") from exc
    if not text:
        raise ValueError(f"token file {str(path)!r} is empty")
    if not _TOKEN68.fullmatch(text):
        raise ValueError(
            f"token in {str(path)!r} must be one word of letters, digits and -._~+/ "
            "(e.g. made by `openssl rand -hex 32`)"
        )
    return text.encode("ascii")


class ServerTls:
    """The server side of TLS: certificate, key, and the CA of client certificates (mTLS)."""

    def __init__(self, cert_file: Path, key_file: Path, client_ca_file: Path | None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file

    def pem_files(self) -> tuple[bytes, bytes, bytes | None]:
        """(certificate chain, private key, client CA or None), as grpcio wants them."""
        ca = self.client_ca_file.read_bytes() if self.client_ca_file else None
        return self.cert_file.read_bytes(), self.key_file.read_bytes(), ca


def server_ssl_context(tls: ServerTls) -> ssl.SSLContext:
    """A TLS 1.2+ server context; raises ``OSError``/``ssl.SSLError`` if files are unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=str(tls.client_ca_file))
        context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["http/1.1"])
    return context


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class BearerAuth:
    """Checks ``Authorization: Bearer <token>`` against one configured token."""

    def __init__(self, token: bytes) -> None:
        self._digest = _digest(token)

    def problem(self, authorization: str | bytes | None) -> str | None:
        """``None`` when the header carries the token, else why it is refused."""
        if authorization is None:
            return "missing credentials: send 'Authorization: Bearer <token>'"
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return "unsupported credentials: send 'Authorization: Bearer <token>'"
        given = credentials.strip().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(_digest(given), self._digest):
            return "invalid bearer token"
        return None

    def problem_in_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> str | None:
        """:meth:`problem` for gRPC call metadata (keys are lower case)."""
        values = [value for key, value in metadata if key == "authorization"]
        return self.problem(values[0] if len(values) == 1 else None)
