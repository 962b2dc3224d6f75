"""The TLS client port (zoo.cfg ``secureClientPort``): the client protocol inside TLS.

ZooKeeper's Netty connection factory opens a second client port that speaks
the same protocol over TLS, configured with ``ssl.*`` keys (X509Util).  We
take ZooKeeper 3.8's PEM form of those keys:

- ``ssl.keyStore.location``: a PEM file holding the server's private key and
  its certificate chain (leaf first); ``ssl.keyStore.password`` decrypts an
  encrypted key;
- ``ssl.trustStore.location``: a PEM file of the CA certificates that client
  certificates must chain to (``ssl.trustStore.password`` is not needed for
  PEM);
- ``ssl.clientAuth``: ``need`` (the default: a client without a trusted
  certificate fails the handshake), ``want`` (a certificate is asked for and
  checked when sent) or ``none``;
- ``ssl.keyStore.type`` / ``ssl.trustStore.type``: PEM, or unset (then the
  file name decides, as X509Util does; only PEM files are read here);
- ``ssl.protocol``: ZooKeeper's default TLSv1.2.

Client host names are not checked against their certificates (ZooKeeper's
ClientX509Util does not either).  The core sees an ordinary connection: the
TLS layer is Twisted's (pyOpenSSL), below ``ClientProtocol``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from zkcompat.core.config import ServerConfig

log = logging.getLogger("zkcompat.net.tls")

_NOT_PEM_SUFFIXES = (".jks", ".p12", ".pfx", ".bcfks")


class TlsConfigError(ValueError):
    pass


def _read_pem(what: str, location: str | None, store_type: str | None) -> bytes:
    if not location:
        raise TlsConfigError("%s: no location given (ssl.%s.location)" % (what, what))
    if store_type is not None and store_type.strip() and store_type.strip().upper() != "PEM":
        raise TlsConfigError("%s type %s: zkcompat reads PEM files only (ssl.%s.type=PEM)"
                             % (what, store_type, what))
    if (store_type is None or not store_type.strip()) and location.lower().endswith(_NOT_PEM_SUFFIXES):
        raise TlsConfigError("%s %s: zkcompat reads PEM files only" % (what, location))
    try:
        return Path(location).read_bytes()
    except OSError as e:
        raise TlsConfigError("cannot read %s %s: %s" % (what, location, e))


def _certificates(data: bytes, where: str) -> list:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise TlsConfigError("%s: no PEM certificates (%s)" % (where, e))


def context_factory(config: ServerConfig):
    """A Twisted ``CertificateOptions`` for the secure client port; raises TlsConfigError."""
    from cryptography.hazmat.primitives import serialization
    from OpenSSL import crypto
    from twisted.internet import ssl

    key_store = _read_pem("keyStore", config.ssl_key_store_location, config.ssl_key_store_type)
    password = config.ssl_key_store_password
    try:
        key = serialization.load_pem_private_key(key_store, password.encode("utf-8") if password else None)
    except (ValueError, TypeError) as e:
        raise TlsConfigError("keyStore %s: cannot load the private key (%s)" % (config.ssl_key_store_location, e))
    chain = _certificates(key_store, "keyStore %s" % config.ssl_key_store_location)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    leaf = [c for c in chain if c.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == public]
    if not leaf:
        raise TlsConfigError("keyStore %s: no certificate for its private key" % config.ssl_key_store_location)
    extra = [c for c in chain if c is not leaf[0]]
    protocol = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}.get(config.ssl_protocol)
    if protocol is None:
        raise TlsConfigError("ssl.protocol %s: expected TLSv1.2 or TLSv1.3" % config.ssl_protocol)
    mode = config.ssl_client_auth
    options = dict(
        privateKey=crypto.PKey.from_cryptography_key(key),
        certificate=crypto.X509.from_cryptography(leaf[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in extra],
        raiseMinimumTo=protocol,
        lowerMaximumSecurityTo=protocol,
    )
    if mode == "none":
        return ssl.CertificateOptions(verify=False, **options)
    trust = _read_pem("trustStore", config.ssl_trust_store_location, config.ssl_trust_store_type)
    cas = _certificates(trust, "trustStore %s" % config.ssl_trust_store_location)
    return ssl.CertificateOptions(verify=True, caCerts=[crypto.X509.from_cryptography(c) for c in cas],
                                  requireCertificate=(mode == "need"), **options)


def listen_secure(reactor, config: ServerConfig, factory, port: int | None = None, interface: str | None = None):
    """Listen for TLS client connections; the IListeningPort.  Raises TlsConfigError or CannotListenError."""
    if port is None:
        port = config.secure_client_port
    if interface is None:
        interface = config.secure_client_port_address or ""
    return reactor.listenSSL(port, factory, context_factory(config), interface=interface)
