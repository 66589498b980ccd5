"""Certificates for the TLS tests, made with the ``openssl`` command-line tool.

A test CA signs one certificate per node (subject alternative names
``IP:127.0.0.1`` and ``DNS:localhost``, so host-name checks pass on loopback);
a second, unrelated CA signs the "intruder" certificate that no node trusts.
EC P-256 keys: generated in milliseconds.  Keys are PKCS#8 PEM (what Kafka's
PEM key store takes); ``encrypted_key`` is one encrypted with a password.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

OPENSSL = shutil.which("openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class NodeCert:
    key: Path
    cert: Path
    #: key + cert in one file: a PEM key store for ssl.keystore.location
    keystore: Path

    def key_pem(self) -> str:
        return self.key.read_text()

    def cert_pem(self) -> str:
        return self.cert.read_text()


class Pki:
    """A CA and its certificates in ``directory``."""

    def __init__(self, directory: Path, name: str = "kraft-test-ca"):
        if OPENSSL is None:
            pytest.skip("the openssl command-line tool is needed to make test certificates")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.ca_key = directory / f"{name}.key"
        self.ca_cert = directory / f"{name}.crt"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", self.ca_key.name, "-out", self.ca_cert.name, "-subj", f"/CN={name}", "-days", "2",
                 cwd=directory)

    def issue(self, cn: str, san: str = "IP:127.0.0.1,DNS:localhost") -> NodeCert:
        d = self.directory
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{cn}.key", "-out", f"{cn}.csr", "-subj", f"/CN={cn}", cwd=d)
        (d / f"{cn}.ext").write_text(f"subjectAltName={san}\n")
        _openssl("x509", "-req", "-in", f"{cn}.csr", "-CA", self.ca_cert.name, "-CAkey", self.ca_key.name,
                 "-CAcreateserial", "-out", f"{cn}.crt", "-days", "2", "-extfile", f"{cn}.ext", cwd=d)
        keystore = d / f"{cn}.keystore.pem"
        keystore.write_text((d / f"{cn}.key").read_text() + (d / f"{cn}.crt").read_text())
        return NodeCert(d / f"{cn}.key", d / f"{cn}.crt", keystore)

    def encrypted_key(self, node: NodeCert, password: str) -> Path:
        out = node.key.with_suffix(".enc.key")
        _openssl("pkcs8", "-topk8", "-in", node.key.name, "-out", out.name, "-passout", f"pass:{password}",
                 "-v2", "aes-256-cbc", cwd=self.directory)
        return out


def inline(pem: str) -> str:
    """PEM text as one properties value, line breaks written as spaces (Kafka's parser takes that)."""
    return " ".join(pem.split("\n")).strip()


def ssl_properties(node: NodeCert, ca: Pki, *, inline_pem: bool = False, client_auth: str = "required") -> dict:
    """The keys of an mTLS controller listener named CONTROLLER."""
    props = {"listener.security.protocol.map": "CONTROLLER:SSL", "ssl.keystore.type": "PEM",
             "ssl.truststore.type": "PEM", "ssl.client.auth": client_auth}
    if inline_pem:
        props["ssl.keystore.key"] = inline(node.key_pem())
        props["ssl.keystore.certificate.chain"] = inline(node.cert_pem())
        props["ssl.truststore.certificates"] = inline(ca.ca_cert.read_text())
    else:
        props["ssl.keystore.location"] = str(node.keystore)
        props["ssl.truststore.location"] = str(ca.ca_cert)
    return props
