"""Sessions: the handshake, timeout negotiation, reconnects, close, ping, expiry."""

from __future__ import annotations

import time

from protocol import messages, records as r
from protocol.codes import CreateMode, OpCode, Xid

from ..servers import MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS
from . import register, scenario
from .common import raw_request, zxid_of


@scenario("session.connect.basic")
def _(t):
    """A new session: protocolVersion 0, the requested timeout, a session id, a 16-byte password, readOnly false."""
    t.session(timeout_ms=10000)


@scenario("session.connect.old_client_without_readonly_byte")
def _(t):
    """A 3.3-era ConnectRequest without the readOnly byte gets a ConnectResponse without it, and a working session."""
    c = t.session(read_only=None)
    c.exists(t.root)


@scenario("session.connect.readonly_requested")
def _(t):
    """A client asking for a read-only session on a read-write server gets an ordinary read-write session."""
    c = t.session(read_only=True)
    c.create(t.path("rw"), b"x")


@scenario("session.connect.readonly_byte_2")
def _(t):
    """A readOnly byte of 2 (not 0/1) is accepted; the session is an ordinary read-write one."""
    c = t.connection()
    req = r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16)
    c._expect_connect_response = True
    c.send_frame(r.ConnectRequest.encode(req) + b"\x02")
    c.wait_connect_response()
    c.exists(t.root)


for _name, _asked in [
    ("below_min", 1000),
    ("zero", 0),
    ("negative", -5000),
    ("exact_min", MIN_SESSION_TIMEOUT_MS),
    ("between", 5001),
    ("exact_max", MAX_SESSION_TIMEOUT_MS),
    ("above_max", 100000),
    ("int_max", 2**31 - 1),
]:

    def _f(t, asked=_asked):
        t.session(timeout_ms=asked)

    register(
        "session.timeout.%s" % _name,
        _f,
        "Asking for a %d ms session timeout negotiates it into [minSessionTimeout, maxSessionTimeout]." % _asked,
    )


@scenario("session.connect.protocol_version_1")
def _(t):
    """A ConnectRequest with protocolVersion 1 is answered (the server does not check the version)."""
    c = t.session(protocol_version=1)
    c.exists(t.root)


@scenario("session.connect.last_zxid_far_ahead")
def _(t):
    """A client that has seen a zxid far ahead of the server's is refused: the connection closes without a reply."""
    c = t.connection()
    c.send_connect(last_zxid_seen=1 << 40)
    c.wait_close()


@scenario("session.connect.last_zxid_current")
def _(t):
    """lastZxidSeen equal to the server's last zxid is accepted."""
    c1 = t.session()
    z = zxid_of(c1.ping())
    c2 = t.session(last_zxid_seen=z)
    c2.exists(t.root)


@scenario("session.connect.last_zxid_one_ahead")
def _(t):
    """lastZxidSeen one past the server's last zxid is refused with a close, no ConnectResponse."""
    c1 = t.session()
    z = zxid_of(c1.ping())
    c2 = t.connection()
    c2.send_connect(last_zxid_seen=z + 1)
    c2.wait_close()
    c1.exists(t.root)


@scenario("session.connect.negative_last_zxid")
def _(t):
    """A negative lastZxidSeen is not "ahead": the session is created."""
    t.session(last_zxid_seen=-1)


@scenario("session.connect.null_password_new_session")
def _(t):
    """A new session requested with a null password buffer (length -1) is created normally."""
    t.session(passwd=None)


@scenario("session.connect.empty_password_new_session")
def _(t):
    """A new session requested with an empty password is created normally."""
    t.session(passwd=b"")


@scenario("session.connect.truncated")
def _(t):
    """A ConnectRequest cut short (no password) makes the server close the connection."""
    c = t.connection()
    body = messages.encode_connect_request(r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16), False)
    c._expect_connect_response = True
    c.send_frame(body[:20])
    c.wait_close()


@scenario("session.connect.trailing_garbage")
def _(t):
    """A ConnectRequest followed by extra bytes inside the same frame."""
    c = t.connection()
    body = messages.encode_connect_request(r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16), False)
    c._expect_connect_response = True
    c.send_frame(body + b"\x00\x01\x02\x03")
    c.wait_for(lambda e: e.kind in ("connect_response", "closed"), "connect response or close")
    if not c.closed:
        c.exists(t.root)


@scenario("session.connect.split_into_single_bytes")
def _(t):
    """A ConnectRequest and a request delivered one byte per TCP write are reassembled."""
    c = t.connection()
    body = messages.encode_connect_request(r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16), False)
    c._expect_connect_response = True
    data = len(body).to_bytes(4, "big") + body
    data += c.encode_request(OpCode.EXISTS, r.ExistsRequest(t.root, False))
    for i in range(len(data)):
        c.send_bytes(data[i : i + 1])
        time.sleep(0.002)  # forces separate segments; not a wait for an event
    c.wait_connect_response()
    c.wait_reply(1)


@scenario("session.connect.pipelined_requests")
def _(t):
    """ConnectRequest and three requests in one write: the response comes first, then the replies in order."""
    c = t.connection()
    body = messages.encode_connect_request(r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16), False)
    c._expect_connect_response = True
    data = len(body).to_bytes(4, "big") + body
    data += c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("p"), b"1", [r.ACL(31, r.Id("world", "anyone"))], 0))
    data += c.encode_request(OpCode.GET_DATA, r.GetDataRequest(t.path("p"), False))
    data += c.encode_request(OpCode.DELETE, r.DeleteRequest(t.path("p"), -1))
    c.send_bytes(data)
    c.wait_connect_response()
    c.wait_reply(3)


@scenario("session.connect.twice_on_one_connection")
def _(t):
    """A second ConnectRequest on an established connection is read as a request (xid 0, opcode 0): UNIMPLEMENTED."""
    c = t.session()
    body = messages.encode_connect_request(r.ConnectRequest(0, 0, 10000, 0, b"\x00" * 16), False)
    c.expect_reply(0, 0)
    c.send_frame(body)
    c.wait_for(lambda e: e.kind in ("reply", "closed"), "reply or close", 3)
    if not c.closed:
        c.exists(t.root)


@scenario("session.request_before_connect.get_data")
def _(t):
    """A getData frame sent before any ConnectRequest is read as a (bad) ConnectRequest: the connection closes."""
    c = t.connection()
    c._expect_connect_response = True
    c.send_frame(raw_request(1, OpCode.GET_DATA, r.GetDataRequest(t.root, False).to_bytes()))
    c.wait_for(lambda e: e.kind in ("connect_response", "closed"), "connect response or close")
    c.no_epilogue = True
    c.wait_close(3)


@scenario("session.request_before_connect.ping")
def _(t):
    """A ping frame (8 bytes) as the first frame is too short for a ConnectRequest: the connection closes."""
    c = t.connection()
    c._expect_connect_response = True
    c.send_frame(raw_request(Xid.PING, OpCode.PING))
    c.wait_close()


@scenario("session.request_before_connect.close_session")
def _(t):
    """A closeSession frame as the first frame closes the connection without a reply."""
    c = t.connection()
    c._expect_connect_response = True
    c.send_frame(raw_request(1, OpCode.CLOSE_SESSION))
    c.wait_close()


@scenario("session.reconnect.same_password")
def _(t):
    """Resuming a session on a new connection keeps its id, password and ephemerals."""
    c1 = t.session()
    c1.create(t.path("e"), b"", flags=CreateMode.EPHEMERAL)
    c1.close_socket()
    c2 = t.reconnect(c1)
    c2.exists(t.path("e"))
    c2.get_ephemerals(t.root)


@scenario("session.reconnect.while_old_connection_open")
def _(t):
    """Resuming a session while its old connection is open: the new one gets the session, the old one is closed."""
    c1 = t.session()
    c1.exists(t.root)
    c2 = t.reconnect(c1)
    c1.no_epilogue = True
    c1.wait_close()
    c2.exists(t.root)


@scenario("session.reconnect.wrong_password")
def _(t):
    """Resuming with a wrong password: ConnectResponse with timeout 0, session 0, zero password, then close."""
    c1 = t.session()
    bad = bytes((b ^ 0xFF) for b in c1.passwd)
    c2 = t.reconnect(c1, passwd=bad)
    c2.wait_close()
    c1.exists(t.root)


@scenario("session.reconnect.short_password")
def _(t):
    """Resuming with a 3-byte password is refused like a wrong password."""
    c1 = t.session()
    c2 = t.reconnect(c1, passwd=c1.passwd[:3])
    c2.wait_close()


@scenario("session.reconnect.unknown_session")
def _(t):
    """Resuming a session id the server never issued: the expired-session answer and a close."""
    c = t.connection()
    c.connect(session_id=0x0123456789AB, passwd=b"\x01" * 16)
    c.wait_close()


@scenario("session.reconnect.after_close_session")
def _(t):
    """Resuming a session that was closed with closeSession gets the expired-session answer."""
    c1 = t.session()
    c1.close_session()
    c1.wait_close()
    c2 = t.reconnect(c1)
    c2.wait_close()


@scenario("session.reconnect.new_timeout")
def _(t):
    """Resuming a session asking for another timeout: the answer carries the newly negotiated timeout."""
    c1 = t.session(timeout_ms=10000)
    c1.close_socket()
    c2 = t.reconnect(c1, timeout_ms=20000)
    c2.exists(t.root)


@scenario("session.reconnect.without_readonly_byte")
def _(t):
    """Resuming a session with an old-style ConnectRequest (no readOnly byte) works; the answer has no readOnly byte."""
    c1 = t.session()
    c1.close_socket()
    c2 = t.reconnect(c1, read_only=None)
    c2.exists(t.root)


@scenario("session.reconnect.last_zxid_ahead")
def _(t):
    """Resuming a session with a lastZxidSeen ahead of the server is refused with a close; the session survives."""
    c1 = t.session()
    z = zxid_of(c1.ping())
    c1.close_socket()
    c2 = t.reconnect(c1, last_zxid_seen=z + 100)
    c2.wait_close()
    c3 = t.reconnect(c1, last_zxid_seen=z)
    c3.exists(t.root)


@scenario("session.close.basic")
def _(t):
    """closeSession is answered (consuming a zxid) and then the server closes the connection."""
    c = t.session()
    c.exists(t.root)
    c.close_session()
    c.wait_close()
    c2 = t.session()
    c2.ping()


@scenario("session.close.custom_xid")
def _(t):
    """closeSession with xid 1000 is answered with that xid."""
    c = t.session()
    c.close_session(xid=1000)
    c.wait_close()


@scenario("session.close.pipelined_after_writes")
def _(t):
    """An ephemeral create and closeSession in one write: both answered, then the close; the ephemeral is gone."""
    c = t.session()
    data = c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("e"), b"", [r.ACL(31, r.Id("world", "anyone"))], 1))
    data += c.encode_request(OpCode.CLOSE_SESSION)
    c.send_bytes(data)
    c.wait_close()
    c2 = t.session()
    c2.exists(t.path("e"))


@scenario("session.close.ephemerals_removed")
def _(t):
    """Closing a session deletes its ephemerals in one txn; watchers see NodeDeleted and the parent's stat moves."""
    c1 = t.session()
    c2 = t.session()
    c1.create(t.path("e1"), b"", flags=CreateMode.EPHEMERAL)
    c1.create(t.path("e2"), b"", flags=CreateMode.EPHEMERAL)
    c1.create(t.path("p"), b"")
    c2.exists(t.path("e1"), watch=True)
    c2.get_children(t.root, watch=True)
    c1.close_session()
    c1.wait_close()
    c2.wait_notification()
    c2.wait_notification()
    c2.get_children2(t.root)
    c2.exists(t.path("e2"))


@scenario("session.ping.basic")
def _(t):
    """A ping (xid -2) is answered with xid -2, err 0 and the server's last zxid."""
    c = t.session()
    c.create(t.path("a"))
    c.ping()


@scenario("session.ping.custom_xid")
def _(t):
    """A ping sent with xid 77: which xid the answer carries."""
    c = t.session()
    c.submit(OpCode.PING, xid=77)
    c.wait_for(lambda e: e.kind == "reply", "ping reply")
    c.exists(t.root)


@scenario("session.ping.pipelined")
def _(t):
    """Three pings and a write pipelined in one write: answers in order with the zxid current at each."""
    c = t.session()
    data = c.encode_request(OpCode.PING, xid=Xid.PING)
    data += c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("x"), b"", [r.ACL(31, r.Id("world", "anyone"))], 0))
    data += c.encode_request(OpCode.PING, xid=Xid.PING)
    data += c.encode_request(OpCode.PING, xid=Xid.PING)
    c.send_bytes(data)
    for _ in range(4):
        c.wait_for(lambda e: e.kind == "reply", "reply")


@scenario("session.whoami.unauthenticated")
def _(t):
    """whoAmI on a fresh session lists only the ip identity."""
    c = t.session()
    c.who_am_i()


@scenario("session.many_sessions")
def _(t):
    """Three sessions at once have three distinct ids; each one's ephemeral carries its own owner."""
    cs = [t.session() for _ in range(3)]
    for i, c in enumerate(cs):
        c.create(t.path("e%d" % i), b"", flags=CreateMode.EPHEMERAL)
    for i in range(3):
        cs[0].exists(t.path("e%d" % i))


@scenario("session.expiry.ephemerals_and_watchers", timeout_s=45)
def _(t):
    """A dropped session expires after its timeout: its ephemerals go, watchers see it, resuming it is refused."""
    c1 = t.session(timeout_ms=MIN_SESSION_TIMEOUT_MS)
    c2 = t.session(timeout_ms=MAX_SESSION_TIMEOUT_MS)
    c1.create(t.path("e"), b"", flags=CreateMode.EPHEMERAL)
    c1.create(t.path("p"), b"")
    c2.exists(t.path("e"), watch=True)
    c2.get_children(t.root, watch=True)
    c1.close_socket()
    c2.wait_notification(timeout_s=4 * MIN_SESSION_TIMEOUT_MS / 1000)
    c2.wait_notification()
    c2.get_children2(t.root)
    c3 = t.reconnect(c1)
    c3.wait_close()


@scenario("session.expiry.requests_keep_it_alive", timeout_s=45)
def _(t):
    """A session that sends a ping every second outlives twice its timeout; its ephemeral stays."""
    c1 = t.session(timeout_ms=MIN_SESSION_TIMEOUT_MS)
    c1.create(t.path("e"), b"", flags=CreateMode.EPHEMERAL)
    end = time.monotonic() + 2.2 * MIN_SESSION_TIMEOUT_MS / 1000
    with c1.unrecorded():  # how many keep-alive pings fit in the window depends on timing
        while time.monotonic() < end:
            c1.ping()
            time.sleep(0.8)  # paces the keep-alive; no event is awaited here
    c1.exists(t.path("e"))
