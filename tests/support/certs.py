"""Test certificates made on the fly (``cryptography``): a CA, a server and a client cert.

Usage::

    from support.certs import make_pki

    pki = make_pki(tmp_path)  # PEM files in tmp_path/pki
    pki.server_cert, pki.server_key, pki.ca_cert, pki.client_cert, pki.client_key

The server certificate is valid for ``127.0.0.1``, ``::1`` and ``localhost``; a second CA
(``other_ca_cert``) signs a client certificate the collector must refuse.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ("Pki", "make_pki")


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_cert: Path
    stranger_cert: Path
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(common_name, ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory: Path) -> Pki:
    """A fresh CA with a server and a client certificate, plus a stranger's CA and client."""
    out = Path(directory) / "pki"
    out.mkdir(parents=True, exist_ok=True)
    ca = _ca("aikpi test CA")
    other_ca = _ca("someone else's CA")
    server, server_key = _leaf(
        "aikpi collector",
        ca,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
            x509.DNSName("localhost"),
        ],
    )
    client, client_key = _leaf("aikpi exporter", ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger, stranger_key = _leaf("stranger", other_ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(
        ca_cert=_write_cert(out / "ca.pem", ca[0]),
        server_cert=_write_cert(out / "server.pem", server),
        server_key=_write_key(out / "server-key.pem", server_key),
        client_cert=_write_cert(out / "client.pem", client),
        client_key=_write_key(out / "client-key.pem", client_key),
        other_ca_cert=_write_cert(out / "other-ca.pem", other_ca[0]),
        stranger_cert=_write_cert(out / "stranger.pem", stranger),
        stranger_key=_write_key(out / "stranger-key.pem", stranger_key),
    )
