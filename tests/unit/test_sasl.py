"""SASL DIGEST-MD5, server side (zkcompat.core.sasl), JAAS parsing and the core's opcode 102."""

from __future__ import annotations

import pytest
from puresasl.client import SASLClient

from protocol import records
from protocol.codes import Err, OpCode
from tests.unit.corekit import CoreClient, make_server
from zkcompat.core.auth import SASL_AUTH_PROVIDER_CLASS
from zkcompat.core.sasl import (
    DigestMD5Server,
    SaslCrash,
    SaslError,
    canonical_name,
    jaas_digest_users,
    parse_directives,
)

USERS = {"bob": "bobpw", "alice": "alicepw"}


def counting_nonces():
    """A deterministic nonce source: 0, 1, 2, ... as bytes."""
    return lambda n: bytes(i % 256 for i in range(n))


def pure_sasl_client(username="bob", password="bobpw"):
    # what kazoo builds for sasl_options={'mechanism': 'DIGEST-MD5', ...}
    return SASLClient("zk-sasl-md5", service="zookeeper", mechanism="DIGEST-MD5", username=username,
                      password=password)


def challenge(server: DigestMD5Server) -> bytes:
    return server.evaluate(b"")


def digest_response(server: DigestMD5Server, **kw) -> bytes:
    """pure-sasl's answer to the server's challenge."""
    return pure_sasl_client(**kw).process(challenge(server))


class TestDigestMD5Server:
    def test_challenge_is_the_one_zookeeper_sends(self):
        """Realm zk-sasl-md5, a 40-character nonce, charset utf-8, md5-sess, no qop (auth only)."""
        server = DigestMD5Server(USERS, counting_nonces())
        assert challenge(server) == (b'realm="zk-sasl-md5",nonce="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",'
                                     b'charset=utf-8,algorithm=md5-sess')

    def test_pure_sasl_client_authenticates_and_checks_rspauth(self):
        """The whole exchange with pure-sasl (kazoo's SASL library): the client accepts our rspauth."""
        server = DigestMD5Server(USERS, counting_nonces())
        client = pure_sasl_client()
        assert client.process(None) is None  # kazoo then sends an empty token
        reply = server.evaluate(client.process(server.evaluate(b"")))
        assert reply.startswith(b"rspauth=") and server.complete
        assert server.authorization_id == "bob"
        assert client.process(reply) is None and client.complete

    def test_rfc2831_example(self):
        """The worked example of RFC 2831 section 4: the response and rspauth values it gives."""
        server = DigestMD5Server({"chris": "secret"}, lambda n: b"")
        server.realm = "elwood.innosoft.com"
        server.digest_uri = "imap/elwood.innosoft.com"
        server.evaluate(b"")
        server.nonce = b"OA6MG9tEQGm2hh"
        reply = server.evaluate(b'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",'
                                b'nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",'
                                b'response=d388dad90d4bbd760a152321f2143af7,qop=auth')
        assert reply == b"rspauth=ea40f60335c427b5527b84dbabcdfffd"

    def test_non_empty_first_token_is_ignored(self):
        """ZooKeeper's server answers any first token with its challenge."""
        server = DigestMD5Server(USERS, counting_nonces())
        assert server.evaluate(b"whatever").startswith(b'realm="zk-sasl-md5"')

    def test_wrong_password_fails(self):
        server = DigestMD5Server(USERS, counting_nonces())
        with pytest.raises(SaslError, match="Mismatched response"):
            server.evaluate(digest_response(server, password="nope"))
        assert not server.complete and server.authorization_id is None

    def test_unknown_user_fails(self):
        server = DigestMD5Server(USERS, counting_nonces())
        with pytest.raises(SaslError, match="cannot acquire password for carol"):
            server.evaluate(digest_response(server, username="carol", password="x"))

    def test_super_password_applies_to_user_super_only(self):
        """zookeeper.SASLAuthenticationProvider.superPassword is the password of user 'super'."""
        server = DigestMD5Server(USERS, counting_nonces(), super_password="root")
        server.evaluate(digest_response(server, username="super", password="root"))
        assert server.authorization_id == "super"

    def test_a_token_after_completion_is_an_error(self):
        server = DigestMD5Server(USERS, counting_nonces())
        server.evaluate(digest_response(server))
        with pytest.raises(SaslError, match="illegal state"):
            server.evaluate(b"")

    @pytest.mark.parametrize("change, message", [
        ((b'nonce="', b'nonce="x'), "Mismatched nonce"),
        ((b"nc=00000001", b"nc=00000001,nonce-count=2"), "Nonce count does not match"),
        ((b"nc=00000001", b"nonce-count=1,nonce-count=1"), "more than one nonce-count"),
        ((b'digest-uri="zookeeper/zk-sasl-md5"', b'digest-uri="zookeeper/elsewhere"'), "Mismatched URI"),
        ((b"qop=auth", b"qop=auth-int"), "Invalid QOP"),
        ((b'realm="zk-sasl-md5"', b'realm="other"'), "Nonexistent realm"),
        ((b'username="bob"', b'user="bob"'), "Missing username"),
        ((b'cnonce="', b'cn="'), "Missing cnonce"),
        ((b"response=", b"resp="), "response"),
        ((b'realm="zk-sasl-md5",', b""), "Missing realm"),
        ((b"nc=00000001", b"nc=00000001,x,a=b"), "without a value"),
        ((b"qop=auth", b'qop=auth,charset="latin1"'), "Incompatible charset"),
        ((b"qop=auth", b"qop=auth,qop=auth"), "more than one qop"),
        ((b'username="bob"', b'username="bob'), "unmatched quote|expected a comma"),
        ((b"qop=auth", b"qop"), "without a value"),
    ])
    def test_malformed_responses_fail(self, change, message):
        server = DigestMD5Server(USERS, counting_nonces())
        good = digest_response(server)
        assert change[0] in good
        with pytest.raises(SaslError, match=message):
            server.evaluate(good.replace(change[0], change[1], 1))
        assert not server.complete

    @pytest.mark.parametrize("nc", [b"nc=1", b"nc=00000002", b"nc=zz", b"nonce-count=00000001", b"nc=1,nc=2",
                                    b"nonce-count=+1"])
    def test_nc_is_ignored_and_the_hash_counts_one(self, nc):
        """Java's server reads "nonce-count" (not nc) and hashes with 00000001: as Apache ZooKeeper 3.8 does."""
        server = DigestMD5Server(USERS, counting_nonces())
        server.evaluate(digest_response(server).replace(b"nc=00000001", nc))
        assert server.complete

    @pytest.mark.parametrize("extra", [b",maxbuf=x", b",maxbuf=99999999999", b",nonce-count=zz"])
    def test_numbers_java_cannot_parse_crash_the_exchange(self, extra):
        """Integer.parseInt fails outside SASL in Java: ZooKeeper closes the connection without a reply."""
        server = DigestMD5Server(USERS, counting_nonces())
        with pytest.raises(SaslCrash):
            server.evaluate(digest_response(server) + extra)

    def test_a_last_directive_without_value_is_ignored(self):
        server = DigestMD5Server(USERS, counting_nonces())
        server.evaluate(digest_response(server) + b",x")
        assert server.complete

    def test_a_response_longer_than_4096_bytes_fails(self):
        server = DigestMD5Server(USERS, counting_nonces())
        challenge(server)
        with pytest.raises(SaslError, match="length"):
            server.evaluate(b"a" * 4097)

    def test_garbage_fails_without_other_exceptions(self):
        for garbage in (b"\xff\xfe", b"=", b",,,", b'a="\\', b"\x00" * 100, "username=\u00e9".encode()):
            server = DigestMD5Server(USERS, counting_nonces())
            challenge(server)
            with pytest.raises(SaslError):
                server.evaluate(garbage)


def test_directives_unquote_and_keep_case_of_values():
    assert parse_directives(b' a = "x\\"y" , B=tok,c="" ') == {"a": b'x"y', "b": b"tok", "c": b""}


def test_authorized_id_is_the_canonical_kerberos_name():
    assert canonical_name("bob") == "bob"
    assert canonical_name("zk/host@EXAMPLE.COM") == "zk/host@EXAMPLE.COM"
    with pytest.raises(SaslError):
        canonical_name("a@b@c")


JAAS = """
/* the server's users */
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"   // the super user
       user_bob="bob \\"pw\\""
       debug=true;
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="bob"
       password="bobpw";
};
"""


class TestJaas:
    def test_server_section_users(self):
        assert jaas_digest_users(JAAS) == {"super": "adminsecret", "bob": 'bob "pw"'}

    def test_other_section(self):
        assert jaas_digest_users(JAAS, "Client") == {}

    def test_missing_section_is_an_error(self):
        with pytest.raises(ValueError, match="No JAAS configuration section named 'Server'"):
            jaas_digest_users(JAAS.replace("Server", "Other"))

    @pytest.mark.parametrize("text", ["Server {", "Server { m required a=; };", "Server { m maybe; };",
                                      "Server { m required } ;", 'Server { m required a="x'])
    def test_malformed_files_are_errors(self, text):
        with pytest.raises(ValueError):
            jaas_digest_users(text)


# --- the core: opcode 102 --------------------------------------------------------------------

def sasl_server(**overrides):
    overrides.setdefault("sasl_users", dict(USERS))
    overrides.setdefault("auth_providers", (SASL_AUTH_PROVIDER_CLASS,))
    server, clock = make_server(**overrides)
    server.sasl_nonce_source = counting_nonces()
    return server


def connected(server):
    c = CoreClient(server)
    c.connect()
    return c


def sasl_token(c: CoreClient, token: bytes):
    xid = c.request(OpCode.SASL, records.GetSASLRequest(token))
    r = c.reply(xid)
    return r, records.SetSASLResponse.from_bytes(r.body).token


def authenticate(c: CoreClient, username="bob", password="bobpw"):
    client = pure_sasl_client(username, password)
    r, token = sasl_token(c, b"")
    assert r.err == 0
    r, token = sasl_token(c, client.process(token))
    if r.err == 0 and token is not None:
        client.process(token)
        assert client.complete
    return r


def who_am_i(c: CoreClient):
    err, resp = c.call(OpCode.WHO_AM_I, None, records.WhoAmIResponse)
    return [(i.auth_scheme, i.user) for i in resp.client_info]


class TestCoreSasl:
    def test_success_adds_the_sasl_id(self):
        server = sasl_server()
        c = connected(server)
        assert authenticate(c).err == 0
        assert ("sasl", "bob") in who_am_i(c)

    def test_wrong_password_is_authfailed_with_a_null_token_then_close(self):
        """processSasl: ReplyHeader(xid, 0, AUTHFAILED) + SetSASLResponse(null), then the connection closes."""
        server = sasl_server()
        c = connected(server)
        r = authenticate(c, password="wrong")
        assert (r.err, r.zxid, r.body) == (Err.AUTHFAILED, 0, b"\xff\xff\xff\xff")
        assert c.closed

    def test_allow_sasl_failed_clients_keeps_the_connection(self):
        server = sasl_server(allow_sasl_failed_clients=True)
        c = connected(server)
        r = authenticate(c, password="wrong")
        assert (r.err, r.body) == (0, b"\xff\xff\xff\xff") and not c.closed
        assert [s for s, _ in who_am_i(c)] == ["ip"]

    def test_no_jaas_means_ok_with_a_null_token(self):
        server, _ = make_server()
        c = connected(server)
        r, token = sasl_token(c, b"")
        assert (r.err, token) == (0, None) and not c.closed

    def test_sasl_acl_grants_its_user_only(self):
        server = sasl_server()
        bob = connected(server)
        authenticate(bob)
        acl = [records.ACL(31, records.Id("sasl", "bob"))]
        assert bob.create("/b", b"x", acl=acl)[0] == 0
        assert bob.get_data("/b")[0] == 0
        alice = connected(server)
        authenticate(alice, "alice", "alicepw")
        assert alice.get_data("/b")[0] == Err.NOAUTH
        anon = connected(server)
        assert anon.get_data("/b")[0] == Err.NOAUTH

    def test_auth_acl_expands_to_the_sasl_id(self):
        server = sasl_server()
        bob = connected(server)
        authenticate(bob)
        assert bob.create("/a", acl=[records.ACL(31, records.Id("auth", ""))])[0] == 0
        acl = bob.call(OpCode.GET_ACL, records.GetACLRequest("/a"), records.GetACLResponse)[1].acl
        assert [(a.id.scheme, a.id.id) for a in acl] == [("sasl", "bob")]

    def test_sasl_scheme_needs_the_provider(self):
        """Without authProvider.N=...SASLAuthenticationProvider a sasl ACL is INVALIDACL (ProviderRegistry)."""
        server = sasl_server(auth_providers=())
        bob = connected(server)
        authenticate(bob)
        assert bob.create("/b", acl=[records.ACL(31, records.Id("sasl", "bob"))])[0] == Err.INVALIDACL
        assert ("sasl", "") in who_am_i(bob)

    def test_sasl_acl_ids_are_validated_as_kerberos_names(self):
        server = sasl_server()
        c = connected(server)
        assert c.create("/k", acl=[records.ACL(31, records.Id("sasl", "zk/h@R"))])[0] == 0
        assert c.create("/m", acl=[records.ACL(31, records.Id("sasl", "a@b@c"))])[0] == Err.INVALIDACL

    def test_super_user_by_sasl(self):
        server = sasl_server(sasl_super_users=("alice",))
        bob = connected(server)
        authenticate(bob)
        assert bob.create("/b", acl=[records.ACL(31, records.Id("sasl", "bob"))])[0] == 0
        alice = connected(server)
        authenticate(alice, "alice", "alicepw")
        assert alice.get_data("/b")[0] == 0
        assert ("super", "") in who_am_i(alice)

    def test_a_crashing_token_closes_without_reply(self):
        server = sasl_server(allow_sasl_failed_clients=True)
        c = connected(server)
        client = pure_sasl_client()
        r, token = sasl_token(c, b"")
        before = len(c.replies())
        c.request(OpCode.SASL, records.GetSASLRequest(client.process(token) + b",maxbuf=x"))
        assert c.closed and len(c.replies()) == before

    def test_malformed_sasl_packet_closes(self):
        server = sasl_server()
        c = connected(server)
        c.request(OpCode.SASL, b"\x00\x00")
        assert c.closed


class TestEnforcedAuth:
    def test_a_request_without_a_sasl_id_closes_with_124(self):
        server = sasl_server(session_require_client_sasl_auth=True)
        c = connected(server)
        r = c.reply(c.request(OpCode.EXISTS, records.ExistsRequest("/", False)))
        assert (r.err, r.zxid) == (Err.SESSIONCLOSEDREQUIRESASLAUTH, 0) and c.closed

    def test_pings_are_enforced_too(self):
        server = sasl_server(enforce_auth_enabled=True, enforce_auth_schemes=("sasl",))
        c = connected(server)
        c.request(OpCode.PING, xid=-2)
        assert c.closed

    def test_any_enforced_scheme_will_do(self):
        server = sasl_server(enforce_auth_enabled=True, enforce_auth_schemes=("sasl", "digest"))
        c = connected(server)
        assert c.auth("digest", b"u:p").err == 0
        assert c.exists("/")[0] == 0 and not c.closed
        bob = connected(server)
        authenticate(bob)
        assert bob.exists("/")[0] == 0

    def test_sasl_failure_when_sasl_is_required_is_124_even_with_allow_failed(self):
        server = sasl_server(session_require_client_sasl_auth=True, allow_sasl_failed_clients=True)
        c = connected(server)
        r = authenticate(c, password="wrong")
        assert (r.err, r.body) == (Err.SESSIONCLOSEDREQUIRESASLAUTH, b"\xff\xff\xff\xff") and c.closed
