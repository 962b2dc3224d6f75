"""SASL DIGEST-MD5 (opcode 102) with JAAS Server users, through kazoo's sasl_options and a raw client.

zkcompat is given the JAAS file through ZKCOMPAT_JAAS; Apache ZooKeeper (ZKCOMPAT_TARGET=real)
through -Djava.security.auth.login.config.  Both have the sasl ACL scheme enabled with
``authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider``.
"""

from __future__ import annotations

import socket
import struct

import pytest
from compat_helpers import WAIT, poll_until, target
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl
from puresasl.client import SASLClient

from protocol import records
from protocol.codes import Err, OpCode
from protocol.framing import FrameDecoder, frame
from protocol.messages import encode_connect_request
from zkcompat.servers import RealZooKeeper, ZkcompatProcess

SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
JAAS = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobpw"
    user_alice="alicepw";
};
"""


@pytest.fixture(scope="module")
def sasl_server(tmp_path_factory):
    jaas = tmp_path_factory.mktemp("jaas") / "jaas.conf"
    jaas.write_text(JAAS)
    if target() == "real":
        server = RealZooKeeper(system_properties={"java.security.auth.login.config": str(jaas)},
                               extra_cfg={"authProvider.1": SASL_PROVIDER})
    else:
        server = ZkcompatProcess(config={"authProvider.1": SASL_PROVIDER}, env={"ZKCOMPAT_JAAS": str(jaas)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sasl_client(sasl_server):
    clients = []

    def make(username, password, **kw):
        zk = KazooClient(hosts=sasl_server.hosts, sasl_options={"mechanism": "DIGEST-MD5", "username": username,
                                                                "password": password}, **kw)
        clients.append(zk)
        return zk

    yield make
    for zk in clients:
        zk.stop()
        zk.close()


class RawClient:
    """A session over a plain socket: the SASL exchange with pure-sasl, then any request."""

    def __init__(self, hosts: str):
        host, _, port = hosts.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=WAIT)
        self.decoder = FrameDecoder()
        self.xid = 0
        self.frames: list[bytes] = []
        self.sock.sendall(frame(encode_connect_request(records.ConnectRequest(0, 0, 10000, 0, bytes(16)), False)))
        self._next()

    def _next(self) -> bytes | None:
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.frames.extend(self.decoder.feed(data))
        return self.frames.pop(0)

    def call(self, op: int, body: bytes = b"") -> tuple[int, int, bytes] | None:
        self.xid += 1
        self.sock.sendall(frame(records.RequestHeader(self.xid, op).to_bytes() + body))
        reply = self._next()
        if reply is None:
            return None
        xid, zxid, err = struct.unpack_from(">iqi", reply, 0)
        assert xid == self.xid
        return zxid, err, reply[16:]

    def sasl(self, username: str, password: str) -> tuple[int, int, bytes]:
        """The DIGEST-MD5 exchange as kazoo runs it; returns the last reply."""
        client = SASLClient("zk-sasl-md5", service="zookeeper", mechanism="DIGEST-MD5", username=username,
                            password=password)
        token = b""
        while True:
            reply = self.call(OpCode.SASL, records.GetSASLRequest(token).to_bytes())
            zxid, err, body = reply
            if err:
                return reply
            challenge = records.SetSASLResponse.from_bytes(body).token
            token = client.process(challenge)
            if client.complete:
                return reply

    def who_am_i(self) -> list[tuple[str, str]]:
        zxid, err, body = self.call(OpCode.WHO_AM_I)
        assert err == 0
        return [(c.auth_scheme, c.user) for c in records.WhoAmIResponse.from_bytes(body).client_info]

    def closed(self) -> bool:
        return self._next() is None

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(sasl_server):
    clients = []

    def make():
        c = RawClient(sasl_server.hosts)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def test_digest_md5_success_is_visible_in_who_am_i(raw):
    c = raw()
    zxid, err, body = c.sasl("bob", "bobpw")
    assert (zxid, err) == (0, 0)
    # in the iteration order of ZooKeeper's ConcurrentHashMap of ids, as Apache ZooKeeper 3.8 answers
    assert c.who_am_i() == [("sasl", "bob"), ("ip", "127.0.0.1")]


def test_wrong_password_gets_authfailed_with_a_null_token_and_the_connection_closes(raw):
    c = raw()
    zxid, err, body = c.sasl("bob", "nope")
    assert (zxid, err, body) == (0, Err.AUTHFAILED, b"\xff\xff\xff\xff")
    assert c.closed()


def test_unknown_user_fails_like_a_wrong_password(raw):
    # (Apache ZooKeeper 3.8 shares one callback handler between connections and keeps the
    # last known user's name: an unknown user is then checked against that user's password.
    # zkcompat does not copy that; with a password nobody has, both fail alike.)
    c = raw()
    assert c.sasl("carol", "carolpw")[1] == Err.AUTHFAILED
    assert c.closed()


def test_a_token_after_success_fails_and_closes(raw):
    c = raw()
    assert c.sasl("bob", "bobpw")[1] == 0
    assert c.call(OpCode.SASL, records.GetSASLRequest(b"").to_bytes())[1] == Err.AUTHFAILED
    assert c.closed()


def test_kazoo_sasl_user_owns_a_sasl_acl_node(sasl_client, sasl_server):
    bob = sasl_client("bob", "bobpw")
    bob.start(timeout=WAIT)
    path = bob.create("/sasl-bob-", b"mine", acl=[make_acl("sasl", "bob", all=True)], sequence=True)
    assert bob.get(path)[0] == b"mine"
    assert [(a.id.scheme, a.id.id) for a in bob.get_acls(path)[0]] == [("sasl", "bob")]
    alice = sasl_client("alice", "alicepw")
    alice.start(timeout=WAIT)
    with pytest.raises(NoAuthError):
        alice.get(path)
    anonymous = KazooClient(hosts=sasl_server.hosts)
    anonymous.start(timeout=WAIT)
    try:
        with pytest.raises(NoAuthError):
            anonymous.get(path)
    finally:
        anonymous.stop()
        anonymous.close()
    bob.delete(path)


def test_kazoo_auth_acl_expands_to_the_sasl_id(sasl_client):
    bob = sasl_client("bob", "bobpw")
    bob.start(timeout=WAIT)
    path = bob.create("/sasl-auth-", acl=[make_acl("auth", "", all=True)], sequence=True)
    assert [(a.id.scheme, a.id.id) for a in bob.get_acls(path)[0]] == [("sasl", "bob")]
    bob.delete(path)


def test_kazoo_with_a_wrong_password_ends_in_auth_failed(sasl_client, caplog):
    """kazoo connects, fails the SASL exchange with AuthFailedError and stops: the session is LOST."""
    states = []
    zk = sasl_client("bob", "wrong")
    zk.add_listener(states.append)
    try:
        zk.start(timeout=WAIT)
    except AuthFailedError:
        pass
    poll_until(lambda: KazooState.LOST in states, what="the session LOST after AUTH_FAILED")
    assert not zk.connected
    assert any(r.getMessage().startswith("AUTH_FAILED") for r in caplog.records if r.name == "kazoo.client")


def test_without_the_sasl_provider_a_sasl_acl_is_invalid(tmp_path):
    """SASL still authenticates, but the sasl scheme is unknown: INVALIDACL, and whoAmI has no user name."""
    jaas = tmp_path / "jaas.conf"
    jaas.write_text(JAAS)
    if target() == "real":
        server = RealZooKeeper(system_properties={"java.security.auth.login.config": str(jaas)})
    else:
        server = ZkcompatProcess("--jaas", str(jaas))
    with server:
        c = RawClient(server.hosts)
        try:
            assert c.sasl("bob", "bobpw")[1] == 0
            assert c.who_am_i() == [("sasl", ""), ("ip", "127.0.0.1")]
            acl = [records.ACL(31, records.Id("sasl", "bob"))]
            zxid, err, body = c.call(OpCode.CREATE, records.CreateRequest("/no-provider", b"", acl, 0).to_bytes())
            assert err == Err.INVALIDACL
        finally:
            c.close()


def test_serve_refuses_a_jaas_file_without_server_section(tmp_path):
    """As ZooKeeper refuses to start: the JAAS file must have the section (Server)."""
    import subprocess
    import sys

    jaas = tmp_path / "jaas.conf"
    jaas.write_text(JAAS.replace("Server", "Client"))
    proc = subprocess.run([sys.executable, "-m", "zkcompat", "serve", "--in-memory", "--host", "127.0.0.1", "--port",
                           "0", "--jaas", str(jaas)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "No JAAS configuration section named 'Server'" in proc.stderr


def crafted_response(nonce: bytes, *, user=b"bob", password=b"bobpw", realm=b"zk-sasl-md5", with_realm=True,
                     uri=b"zookeeper/zk-sasl-md5", qop=b"auth", with_qop=True, authzid=None, cnonce=b"abc",
                     nc=b"00000001", hash_nc=None, extra=b"") -> bytes:
    """A DIGEST-MD5 digest-response built by hand (RFC 2831 2.1.2), to probe the server's rules."""
    import hashlib

    def h(b):
        return hashlib.md5(b).digest()

    def hx(b):
        return hashlib.md5(b).hexdigest().encode()

    a1 = h(user + b":" + realm + b":" + password) + b":" + nonce + b":" + cnonce + (b":" + authzid if authzid else b"")
    response = hx(hx(a1) + b":" + nonce + b":" + (hash_nc or nc) + b":" + cnonce + b":" + qop + b":"
                  + hx(b"AUTHENTICATE:" + uri))
    parts = [b'username="%s"' % user] + ([b'realm="%s"' % realm] if with_realm else [])
    parts += [b'nonce="%s"' % nonce, b'cnonce="%s"' % cnonce] + ([b"nc=" + nc] if nc else [])
    parts += ([b"qop=" + qop] if with_qop else []) + [b'digest-uri="%s"' % uri, b"response=" + response]
    parts += [b'authzid="%s"' % authzid] if authzid else []
    return b",".join(parts) + extra


OK, FAILED, CLOSED = "ok", "AUTHFAILED", "closed without reply"

# What Apache ZooKeeper 3.8 (Java's DIGEST-MD5 server) answers; run with ZKCOMPAT_TARGET=real to see it.
CRAFTED = {
    "plain": ({}, OK),
    "no qop (auth)": ({"with_qop": False}, OK),
    "digest-uri in capitals": ({"uri": b"ZOOKEEPER/ZK-SASL-MD5"}, OK),
    "authzid of another user": ({"authzid": b"alice"}, OK),
    "unknown directive": ({"extra": b',foo="bar",foo=2'}, OK),
    "charset utf-8": ({"extra": b",charset=utf-8"}, OK),
    "charset latin1": ({"extra": b",charset=latin1"}, FAILED),
    "maxbuf": ({"extra": b',maxbuf="65536"'}, OK),
    "maxbuf twice": ({"extra": b",maxbuf=5,maxbuf=6"}, FAILED),
    "maxbuf not a number": ({"extra": b",maxbuf=x"}, CLOSED),
    "maxbuf past an int": ({"extra": b",maxbuf=99999999999"}, CLOSED),
    "cipher without auth-conf": ({"extra": b",cipher=rc4"}, OK),
    "no realm": ({"with_realm": False, "realm": b""}, FAILED),
    "no realm, hashed with the server's": ({"with_realm": False}, FAILED),
    "empty realm": ({"realm": b""}, FAILED),
    "nc ignored: 2": ({"nc": b"00000002", "hash_nc": b"00000001"}, OK),
    "nc ignored: zz": ({"nc": b"zz", "hash_nc": b"00000001"}, OK),
    "nc ignored: missing": ({"nc": b"", "hash_nc": b"00000001"}, OK),
    "nc hashed as sent": ({"nc": b"0001"}, FAILED),
    "nonce-count 1": ({"extra": b",nonce-count=00000001"}, OK),
    "nonce-count 2": ({"extra": b",nonce-count=00000002"}, FAILED),
    "nonce-count twice": ({"extra": b",nonce-count=1,nonce-count=1"}, FAILED),
    "nonce-count not hex": ({"extra": b",nonce-count=zz"}, CLOSED),
    "qop auth-int": ({"qop": b"auth-int"}, FAILED),
    "qop in capitals": ({"qop": b"AUTH"}, FAILED),
    "username twice": ({"extra": b',username="alice"'}, FAILED),
    "digest-uri with a serv-name": ({"uri": b"zookeeper/zk-sasl-md5/x"}, FAILED),
    "empty cnonce": ({"cnonce": b""}, OK),
    "wrong password": ({"password": b"x"}, FAILED),
    "short response": ({"extra": b",response=abc"}, FAILED),
    "unterminated quote": ({"extra": b',x="abc'}, FAILED),
    "last directive without value": ({"extra": b",x"}, OK),
    "directive without value": ({"extra": b",x,foo=bar"}, FAILED),
    "empty directive name": ({"extra": b",=x"}, FAILED),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_digest_responses(raw, name):
    kw, expected = CRAFTED[name]
    c = raw()
    zxid, err, body = c.call(OpCode.SASL, records.GetSASLRequest(b"").to_bytes())
    from zkcompat.core.sasl import parse_directives

    nonce = parse_directives(records.SetSASLResponse.from_bytes(body).token)["nonce"]
    reply = c.call(OpCode.SASL, records.GetSASLRequest(crafted_response(nonce, **kw)).to_bytes())
    if reply is None:
        assert expected == CLOSED
        return
    zxid, err, body = reply
    if err == 0:
        assert expected == OK
        assert c.who_am_i() == [("sasl", "bob"), ("ip", "127.0.0.1")]
    else:
        assert (expected, err, body) == (FAILED, Err.AUTHFAILED, b"\xff\xff\xff\xff")
        assert c.closed()


@pytest.fixture(params=["sessionRequireClientSASLAuth", "enforce.auth"])
def enforcing_server(request, tmp_path):
    """A server that serves only connections with a sasl id (two ways ZooKeeper 3.8 can be told so)."""
    jaas = tmp_path / "jaas.conf"
    jaas.write_text(JAAS)
    cfg = {"authProvider.1": SASL_PROVIDER}
    if request.param == "enforce.auth":
        cfg.update({"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl,digest"})
    else:
        cfg["sessionRequireClientSASLAuth"] = "true"
    if target() == "real":
        server = RealZooKeeper(system_properties={"java.security.auth.login.config": str(jaas)}, extra_cfg=cfg)
    else:
        server = ZkcompatProcess(config=cfg, env={"ZKCOMPAT_JAAS": str(jaas)})
    with server:
        yield server


def test_enforced_auth_closes_an_unauthenticated_connection_at_its_first_request(enforcing_server):
    c = RawClient(enforcing_server.hosts)
    try:
        zxid, err, body = c.call(OpCode.EXISTS, records.ExistsRequest("/", False).to_bytes())
        assert (zxid, err, body) == (0, Err.SESSIONCLOSEDREQUIRESASLAUTH, b"")
        assert c.closed()
    finally:
        c.close()


def test_enforced_auth_serves_after_sasl(enforcing_server):
    c = RawClient(enforcing_server.hosts)
    try:
        assert c.sasl("bob", "bobpw")[1] == 0
        zxid, err, body = c.call(OpCode.EXISTS, records.ExistsRequest("/", False).to_bytes())
        assert err == 0
    finally:
        c.close()


def test_enforced_sasl_failure_is_sessionclosedrequiresaslauth(enforcing_server):
    c = RawClient(enforcing_server.hosts)
    try:
        zxid, err, body = c.sasl("bob", "wrong")
        assert (zxid, err, body) == (0, Err.SESSIONCLOSEDREQUIRESASLAUTH, b"\xff\xff\xff\xff")
        assert c.closed()
    finally:
        c.close()


def test_kazoo_without_sasl_gets_session_closed_require_sasl(enforcing_server):
    from kazoo.exceptions import SessionClosedRequireSaslError

    zk = KazooClient(hosts=enforcing_server.hosts)
    zk.start(timeout=WAIT)
    try:
        with pytest.raises(SessionClosedRequireSaslError):
            zk.exists("/")
    finally:
        zk.stop()
        zk.close()
