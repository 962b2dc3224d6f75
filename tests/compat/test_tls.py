"""The TLS client port (secureClientPort with PEM ssl.keyStore / ssl.trustStore) through kazoo and raw sockets."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys

import pytest
from kazoo.client import KazooClient
from compat_helpers import target
from kazoo.handlers.threading import KazooTimeoutError
from tls_certs import make_pki

from protocol import records
from protocol.framing import frame
from protocol.messages import encode_connect_request
from zkcompat.servers import NETTY_JARS, RealZooKeeper, ZkcompatProcess, free_port
from zkcompat.testing import EmbeddedServer

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_config(pki, **extra):
    cfg = {
        "secureClientPort": "0",
        "ssl.keyStore.location": str(pki.server_keystore),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": str(pki.truststore),
        "ssl.trustStore.type": "PEM",
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def server(pki):
    """zkcompat serve with a plain and a TLS client port; ssl.clientAuth left at its default (need).

    With ZKCOMPAT_TARGET=real: Apache ZooKeeper with its Netty connection factory and the same settings.
    """
    if target() == "real":
        port = free_port()
        factory = "org.apache.zookeeper.server.NettyServerCnxnFactory"
        s = RealZooKeeper(extra_cfg=tls_config(pki, secureClientPort=str(port)), extra_classpath=NETTY_JARS,
                          system_properties={"zookeeper.serverCnxnFactory": factory})
        s.secure_port = port
    else:
        s = ZkcompatProcess(config=tls_config(pki, **{"4lw.commands.whitelist": "*"}))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def tls_client(port, pki, cert=None, key=None, **kw):
    return KazooClient(hosts="127.0.0.1:%d" % port, use_ssl=True, verify_certs=True, ca=str(pki.ca),
                       certfile=str(cert) if cert else None, keyfile=str(key) if key else None, **kw)


def handshake(port, pki, cert=None, key=None) -> ssl.SSLSocket:
    """A TLS 1.2 handshake with the server port, as a client trusting our CA; raises on refusal."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki.ca))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise
    return s


def connect_over(sock) -> bytes:
    """Send a ConnectRequest and return all the server sends until it closes (or 64 KiB)."""
    sock.sendall(frame(encode_connect_request(records.ConnectRequest(0, 0, 10000, 0, bytes(16)), False)))
    out = b""
    while len(out) < 65536:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not data or len(out + data) >= 41:
            out += data
            break
        out += data
    return out


def assert_refused(port, pki, cert=None, key=None):
    """The server refuses the handshake, or ends the connection before any reply."""
    try:
        sock = handshake(port, pki, cert, key)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return
    with sock:
        assert connect_over(sock) == b""


def test_kazoo_over_tls_with_a_trusted_client_certificate(server, pki):
    zk = tls_client(server.secure_port, pki, pki.client_cert, pki.client_key)
    zk.start(timeout=TIMEOUT)
    try:
        zk.ensure_path("/tls")
        zk.create("/tls/node", b"secret")
        assert zk.get("/tls/node")[0] == b"secret"
    finally:
        zk.stop()
        zk.close()
    plain = KazooClient(hosts=server.hosts)  # the plain port serves the same tree
    plain.start(timeout=TIMEOUT)
    try:
        assert plain.get("/tls/node")[0] == b"secret"
    finally:
        plain.stop()
        plain.close()


def test_a_certificate_from_an_untrusted_ca_is_refused(server, pki):
    assert_refused(server.secure_port, pki, pki.rogue_cert, pki.rogue_key)


def test_a_client_without_certificate_is_refused_by_default(server, pki):
    """ssl.clientAuth defaults to need (X509Util.ClientAuth.fromPropertyValue)."""
    assert_refused(server.secure_port, pki)


def test_the_handshake_with_a_trusted_certificate_gets_a_session(server, pki):
    with handshake(server.secure_port, pki, pki.client_cert, pki.client_key) as sock:
        reply = connect_over(sock)
    assert len(reply) >= 40 and int.from_bytes(reply[:4], "big") in (36, 37)


def test_a_plain_client_on_the_tls_port_gets_no_session(server, pki):
    with socket.create_connection(("127.0.0.1", server.secure_port), timeout=TIMEOUT) as sock:
        reply = connect_over(sock)
    assert reply == b"" or reply[0] == 0x15  # nothing, or a TLS alert record
    zk = KazooClient(hosts="127.0.0.1:%d" % server.secure_port)
    try:
        with pytest.raises(KazooTimeoutError):
            zk.start(timeout=1.0)
    finally:
        zk.stop()
        zk.close()


def test_client_auth_want_accepts_no_certificate_but_checks_a_given_one(pki):
    """ssl.clientAuth=want, an encrypted key with ssl.keyStore.password, through the test double."""
    with EmbeddedServer(secure_client_port=0, ssl_key_store_location=str(pki.server_keystore_encrypted),
                        ssl_key_store_password=pki.password, ssl_trust_store_location=str(pki.truststore),
                        ssl_client_auth="want") as embedded:
        assert embedded.secure_port not in (0, embedded.port)
        zk = tls_client(embedded.secure_port, pki)
        zk.start(timeout=TIMEOUT)
        try:
            zk.create("/want", b"ok")
            assert zk.get("/want")[0] == b"ok"
        finally:
            zk.stop()
            zk.close()
        assert_refused(embedded.secure_port, pki, pki.rogue_cert, pki.rogue_key)


def test_client_auth_none_asks_for_no_certificate(pki):
    with EmbeddedServer(secure_client_port=0, ssl_key_store_location=str(pki.server_keystore),
                        ssl_client_auth="none") as embedded:
        with handshake(embedded.secure_port, pki, pki.rogue_cert, pki.rogue_key) as sock:
            assert int.from_bytes(connect_over(sock)[:4], "big") in (36, 37)


@pytest.mark.parametrize("bad, message", [
    ({"ssl.keyStore.type": "JKS"}, "PEM files only"),
    ({"ssl.keyStore.location": "/nonexistent/server.pem"}, "cannot read keyStore"),
    ({"ssl.keyStore.location": "ENCRYPTED", "ssl.keyStore.password": "wrong"}, "cannot load the private key"),
    ({"ssl.keyStore.location": "ENCRYPTED"}, "cannot load the private key"),
    ({"ssl.trustStore.location": "KEY_ONLY"}, "no PEM certificates"),
    ({"ssl.keyStore.location": "KEY_ONLY"}, "no PEM certificates"),
    ({"ssl.protocol": "SSLv3"}, "ssl.protocol"),
])
def test_bad_tls_settings_are_reported(pki, tmp_path, bad, message):
    from zkcompat.config import config_from_properties
    from zkcompat.net.tls import TlsConfigError, context_factory

    key_only = tmp_path / "key-only.pem"
    key_only.write_bytes(pki.client_key.read_bytes())
    paths = {"ENCRYPTED": str(pki.server_keystore_encrypted), "KEY_ONLY": str(key_only)}
    cfg = config_from_properties(tls_config(pki, **{k: paths.get(v, v) for k, v in bad.items()}))
    with pytest.raises(TlsConfigError, match=message):
        context_factory(cfg)


def test_a_bad_tls_configuration_stops_serve(pki, tmp_path):
    """zkcompat serve logs why and exits 1, as ZooKeeper refuses to start."""
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("".join("%s=%s\n" % kv for kv in tls_config(pki, **{"ssl.keyStore.type": "JKS"}).items()))
    proc = subprocess.run([sys.executable, "-m", "zkcompat", "serve", "--config", str(cfg), "--host", "127.0.0.1",
                           "--port", "0", "--in-memory"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "PEM files only" in proc.stderr


def tls_call(sock, xid: int, op: int, body: bytes = b"") -> tuple[int, bytes]:
    """One request on an established session; (err, body)."""
    import struct

    from protocol.framing import FrameDecoder

    sock.sendall(frame(records.RequestHeader(xid, op).to_bytes() + body))
    decoder, frames = FrameDecoder(), []
    while not frames:
        frames = decoder.feed(sock.recv(65536))
    return struct.unpack_from(">i", frames[0], 12)[0], frames[0][16:]


CLIENT_DN = "CN=client,O=zkcompat tests"


def test_a_trusted_certificate_is_an_x509_identity(server, pki):
    """X509AuthenticationProvider: the subject (RFC 2253) is the id; whoAmI lists it before ip, as ZooKeeper does."""
    from protocol.codes import OpCode

    with handshake(server.secure_port, pki, pki.client_cert, pki.client_key) as sock:
        connect_over(sock)
        err, body = tls_call(sock, 1, OpCode.WHO_AM_I)
        infos = [(c.auth_scheme, c.user) for c in records.WhoAmIResponse.from_bytes(body).client_info]
        assert infos == [("x509", CLIENT_DN), ("ip", "127.0.0.1")]
        acl = [records.ACL(31, records.Id("x509", CLIENT_DN))]
        assert tls_call(sock, 2, OpCode.CREATE, records.CreateRequest("/x509-node", b"", acl, 0).to_bytes())[0] == 0
        assert tls_call(sock, 3, OpCode.GET_DATA, records.GetDataRequest("/x509-node", False).to_bytes())[0] == 0
    plain = KazooClient(hosts=server.hosts)
    plain.start(timeout=TIMEOUT)
    try:
        from kazoo.exceptions import InvalidACLError, NoAuthError
        from kazoo.security import make_acl

        with pytest.raises(NoAuthError):
            plain.get("/x509-node")
        # the x509 scheme exists on every port once a secure port is configured (configureSSLAuth)
        plain.create("/x509-other", acl=[make_acl("x509", "CN=someone", all=True)])
        with pytest.raises(InvalidACLError):
            plain.create("/x509-bad", acl=[make_acl("x509", "not a name", all=True)])
    finally:
        plain.stop()
        plain.close()


def test_every_ensemble_member_serves_tls(pki):
    """secureClientPort in an ensemble's zoo.cfg: each member opens its own TLS port."""
    from zkcompat.servers import ZkcompatEnsemble

    ensemble = ZkcompatEnsemble(3, extra_cfg=tls_config(pki, **{"ssl.clientAuth": "none"}))
    ensemble.start()
    try:
        ports = [m.secure_port for m in ensemble.members.values()]
        assert len(set(ports)) == 3 and 0 not in ports
        zk = KazooClient(hosts=",".join("127.0.0.1:%d" % p for p in ports), use_ssl=True, verify_certs=True,
                         ca=str(pki.ca))
        zk.start(timeout=TIMEOUT)
        try:
            zk.create("/ensemble-tls", b"v")
            assert zk.get("/ensemble-tls")[0] == b"v"
        finally:
            zk.stop()
            zk.close()
    finally:
        ensemble.stop()


def test_conf_reports_the_secure_client_port(server):
    assert "\nsecureClientPort=%d\n" % server.secure_port in server.four_letter_word("conf")


def test_admin_server_lists_tls_connections_as_secure(pki):
    """AdminServer connections/stat: TLS clients under secure_connections, as ZooKeeper's second factory's."""
    import json
    import urllib.request

    with EmbeddedServer(secure_client_port=0, ssl_key_store_location=str(pki.server_keystore),
                        ssl_client_auth="none", admin_port=0) as embedded:
        plain = KazooClient(hosts=embedded.hosts)
        secure = tls_client(embedded.secure_port, pki)
        for zk in (plain, secure):
            zk.start(timeout=TIMEOUT)
        try:
            with urllib.request.urlopen(embedded.admin_url + "/connections", timeout=TIMEOUT) as r:
                answer = json.load(r)
            sessions = {c["session_id"] & (2**64 - 1) for c in answer["secure_connections"]}
            assert sessions == {secure.client_id[0]}
            assert {c["session_id"] & (2**64 - 1) for c in answer["connections"]} == {plain.client_id[0]}
        finally:
            for zk in (plain, secure):
                zk.stop()
                zk.close()
