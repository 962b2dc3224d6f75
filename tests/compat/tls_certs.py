"""Test certificates, made with the ``cryptography`` package: a CA, certificates it signs, PEM files."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zkcompat tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key, password: str | None = None) -> bytes:
    enc = (serialization.BestAvailableEncryption(password.encode()) if password
           else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _cert_pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, cn: str) -> Ca:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def issue(self, cn: str, server: bool):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
                                                         if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                                  critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())

    def write(self, path: Path) -> Path:
        path.write_bytes(_cert_pem(self.cert))
        return path


@dataclass
class Pki:
    """Everything a TLS test needs, as PEM files in one directory."""

    ca: Path  # the CA that signs the server and the trusted client
    server_keystore: Path  # key + certificate, one file (ZooKeeper's ssl.keyStore.type=PEM)
    server_keystore_encrypted: Path  # the same, key encrypted with ``password``
    password: str
    truststore: Path  # the CA, as the server's trust store
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from a CA the server does not trust
    rogue_key: Path


def make_pki(directory: Path) -> Pki:
    ca = Ca.create("zkcompat test CA")
    rogue_ca = Ca.create("some other CA")
    server_key, server_cert = ca.issue("localhost", server=True)
    client_key, client_cert = ca.issue("client", server=False)
    rogue_key, rogue_cert = rogue_ca.issue("client", server=False)
    d = Path(directory)
    password = "s3cret"
    (d / "server.pem").write_bytes(_key_pem(server_key) + _cert_pem(server_cert))
    (d / "server-encrypted.pem").write_bytes(_cert_pem(server_cert) + _key_pem(server_key, password))
    (d / "client.crt").write_bytes(_cert_pem(client_cert))
    (d / "client.key").write_bytes(_key_pem(client_key))
    (d / "rogue.crt").write_bytes(_cert_pem(rogue_cert))
    (d / "rogue.key").write_bytes(_key_pem(rogue_key))
    return Pki(ca=ca.write(d / "ca.pem"), server_keystore=d / "server.pem",
               server_keystore_encrypted=d / "server-encrypted.pem", password=password,
               truststore=ca.write(d / "truststore.pem"), client_cert=d / "client.crt",
               client_key=d / "client.key", rogue_cert=d / "rogue.crt", rogue_key=d / "rogue.key")
