"""The TLS client port (zoo.cfg ``secureClientPort``): the client protocol inside TLS.

ZooKeeper's Netty connection factory opens a second client port that speaks
the same protocol over TLS, configured with ``ssl.*`` keys (X509Util).  We
take ZooKeeper 3.8's PEM form of those keys:

- ``ssl.keyStore.location``: a PEM file holding the server's private key and
  its certificate chain (the certificate of that key is the leaf, the others
  are sent as its chain); ``ssl.keyStore.password`` decrypts an encrypted key;
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
TLS layer is Twisted's (pyOpenSSL), below ``ClientProtocol``.  When the
handshake ends with a verified client certificate, its subject (RFC 2253, as
Java's X500Principal.getName()) becomes the connection's ``x509`` id, as
X509AuthenticationProvider does (``client_id``, ``ClientProtocol.handshakeCompleted``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from twisted.internet.interfaces import IOpenSSLContextFactory
from zope.interface import implementer

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
    """A server context factory (pyOpenSSL) for the secure client port; raises TlsConfigError."""
    from cryptography.hazmat.primitives import serialization
    from OpenSSL import SSL

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
    versions = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
    if config.ssl_protocol not in versions:
        raise TlsConfigError("ssl.protocol %s: expected TLSv1.2 or TLSv1.3" % config.ssl_protocol)
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(versions[config.ssl_protocol])
    ctx.set_max_proto_version(versions[config.ssl_protocol])
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
    try:
        ctx.use_certificate(leaf[0])
        ctx.use_privatekey(key)
        for cert in chain:
            if cert is not leaf[0]:
                ctx.add_extra_chain_cert(cert)
        ctx.check_privatekey()
    except SSL.Error as e:
        raise TlsConfigError("keyStore %s: %s" % (config.ssl_key_store_location, e))
    ctx.set_session_id(b"zkcompat")  # needed for client certificates with session resumption
    mode = config.ssl_client_auth
    if mode == "none":
        ctx.set_verify(SSL.VERIFY_NONE)
        return _ContextFactory(ctx)
    _certificates(_read_pem("trustStore", config.ssl_trust_store_location, config.ssl_trust_store_type),
                  "trustStore %s" % config.ssl_trust_store_location)
    try:
        ctx.load_verify_locations(config.ssl_trust_store_location)
    except SSL.Error as e:
        raise TlsConfigError("trustStore %s: %s" % (config.ssl_trust_store_location, e))
    flags = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if mode == "need" else 0)
    ctx.set_verify(flags)
    return _ContextFactory(ctx)


@implementer(IOpenSSLContextFactory)
class _ContextFactory:
    """Twisted's server context factory interface: one prepared pyOpenSSL context."""

    def __init__(self, ctx):
        self._ctx = ctx

    def getContext(self):
        return self._ctx


def client_id(transport) -> str | None:
    """The subject of the client's verified certificate, as Java's X500Principal.getName() (RFC 2253)."""
    try:
        cert = transport.getPeerCertificate()
    except Exception:  # no TLS connection any more
        return None
    if cert is None:
        return None
    return cert.to_cryptography().subject.rfc4514_string()


def listen_secure(reactor, config: ServerConfig, factory, port: int | None = None, interface: str | None = None):
    """Listen for TLS client connections; the IListeningPort.  Raises TlsConfigError or CannotListenError."""
    if port is None:
        port = config.secure_client_port
    if interface is None:
        interface = config.secure_client_port_address or ""
    from twisted.protocols.tls import TLSMemoryBIOFactory

    # reactor.listenSSL would give the TLS layer the global reactor as its clock (it batches
    # small writes with callLater): wrong for a server on another reactor, such as the test double's
    tls_factory = TLSMemoryBIOFactory(context_factory(config), False, factory, clock=reactor)
    return reactor.listenTCP(port, tls_factory, interface=interface)
