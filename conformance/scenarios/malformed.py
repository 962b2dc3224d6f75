"""Framing and header abuse: bad lengths, short headers, xids, pipelining, split frames, stray bytes."""

from __future__ import annotations

import time

from protocol import records as r
from protocol.codes import OpCode, Xid

from ..servers import JUTE_MAXBUFFER
from . import scenario
from .common import int32, raw_request


@scenario("frame.negative_length")
def _(t):
    """A frame length of -1 after the handshake closes the connection."""
    c = t.session()
    c.send_bytes(int32(-1) + b"\x00" * 8)
    c.wait_close()


@scenario("frame.length_over_maxbuffer")
def _(t):
    """A frame length of jute.maxbuffer + 1 closes the connection before any body is read."""
    c = t.session()
    c.send_bytes(int32(JUTE_MAXBUFFER + 1))
    c.wait_close()


@scenario("frame.length_huge")
def _(t):
    """A frame length of 0x7fffffff closes the connection."""
    c = t.session()
    c.send_bytes(int32(2**31 - 1))
    c.wait_close()


@scenario("frame.zero_length")
def _(t):
    """An empty frame (length 0) after the handshake."""
    c = t.session()
    c.send_bytes(int32(0))
    c.wait_for(lambda e: e.kind in ("reply", "closed"), "reply or close", 2)
    if not c.closed:
        c.ping()


@scenario("frame.short_header")
def _(t):
    """A 4-byte frame (an xid without an opcode) after the handshake."""
    c = t.session()
    c.send_frame(int32(5))
    c.wait_for(lambda e: e.kind in ("reply", "closed"), "reply or close", 2)
    if not c.closed:
        c.ping()


@scenario("frame.four_letter_word_mid_session")
def _(t):
    """ "ruok" sent on an established session is read as a frame length (0x72756f6b): the connection closes."""
    c = t.session()
    c.send_bytes(b"ruok")
    c.wait_close()


@scenario("frame.before_handshake_negative")
def _(t):
    """A negative first frame length, before any ConnectRequest."""
    c = t.connection()
    c.send_bytes(int32(-100))
    c.wait_close()


@scenario("frame.before_handshake_oversized")
def _(t):
    """A first frame longer than jute.maxbuffer, before any ConnectRequest."""
    c = t.connection()
    c.send_bytes(int32(JUTE_MAXBUFFER + 1000) + b"\x00" * 64)
    c.wait_close()


@scenario("frame.partial_then_close")
def _(t):
    """Half a frame then a client-side close: the session survives (its ephemeral stays until cleanup)."""
    from protocol.codes import CreateMode

    c = t.session()
    c.create(t.path("e"), flags=CreateMode.EPHEMERAL)
    c.send_bytes(int32(100) + b"\x00" * 10)
    c.close_socket()
    c2 = t.session()
    c2.exists(t.path("e"))


@scenario("frame.split_mid_session")
def _(t):
    """A create split into 3-byte pieces with pauses is reassembled and answered once."""
    c = t.session()
    data = c.encode_request(
        OpCode.CREATE, r.CreateRequest(t.path("a"), b"xyz", [r.ACL(31, r.Id("world", "anyone"))], 0)
    )
    for i in range(0, len(data), 3):
        c.send_bytes(data[i : i + 3])
        time.sleep(0.003)  # forces separate segments; not a wait for an event
    c.wait_for(lambda e: e.kind == "reply", "create reply")
    c.exists(t.path("a"))


@scenario("frame.two_requests_one_segment_boundary_inside")
def _(t):
    """Two requests whose bytes are written as [first + half of second], [rest]: both answered in order."""
    c = t.session()
    d1 = c.encode_request(OpCode.EXISTS, r.ExistsRequest(t.root, False))
    d2 = c.encode_request(OpCode.GET_CHILDREN, r.GetChildrenRequest(t.root, False))
    c.send_bytes(d1 + d2[:5])
    time.sleep(0.02)  # forces a separate segment; not a wait for an event
    c.send_bytes(d2[5:])
    c.wait_reply(2)


@scenario("xid.duplicate")
def _(t):
    """Two pipelined requests with the same xid are both answered, in order, with that xid."""
    c = t.session()
    data = c.encode_request(
        OpCode.CREATE, r.CreateRequest(t.path("a"), b"", [r.ACL(31, r.Id("world", "anyone"))], 0), xid=7
    )
    data += c.encode_request(OpCode.GET_DATA, r.GetDataRequest(t.path("a"), False), xid=7)
    c.send_bytes(data)
    c.wait_for(lambda e: e.kind == "reply", "first")
    c.wait_for(lambda e: e.kind == "reply", "second")


@scenario("xid.zero_negative_and_max")
def _(t):
    """xids 0, -3, -100 and Integer.MAX_VALUE are echoed back as sent."""
    c = t.session()
    for xid in (0, -3, -100, 2**31 - 1):
        c.exists(t.root, xid=xid)


@scenario("xid.reserved_values_on_ordinary_ops")
def _(t):
    """An exists sent with xid -1, -2, -4 or -8: the reply carries that xid (and is not a notification)."""
    c = t.session()
    for xid in (Xid.AUTH, Xid.SET_WATCHES, Xid.PING):
        c.exists(t.root, xid=xid)
    c.submit(OpCode.EXISTS, r.ExistsRequest(t.root, False), xid=-1)
    c.wait_for(lambda e: e.kind in ("reply", "notification"), "reply to xid -1")


@scenario("xid.decreasing")
def _(t):
    """xids sent out of order (10, 5, 1) are answered in arrival order."""
    c = t.session()
    data = b"".join(c.encode_request(OpCode.EXISTS, r.ExistsRequest(t.root, False), xid=x) for x in (10, 5, 1))
    c.send_bytes(data)
    c.wait_reply(1)


@scenario("pipeline.mixed_reads_and_writes")
def _(t):
    """Twenty pipelined reads and writes in one write are answered in request order with consistent zxids."""
    c = t.session()
    acl_ = [r.ACL(31, r.Id("world", "anyone"))]
    data = b""
    for i in range(5):
        p = t.path("n%d" % i)
        data += c.encode_request(OpCode.CREATE, r.CreateRequest(p, b"", acl_, 0))
        data += c.encode_request(OpCode.GET_DATA, r.GetDataRequest(p, False))
        data += c.encode_request(OpCode.SET_DATA, r.SetDataRequest(p, b"x", -1))
        data += c.encode_request(OpCode.EXISTS, r.ExistsRequest(p, True))
    c.send_bytes(data)
    c.wait_reply(20)


@scenario("pipeline.watch_fires_between_replies")
def _(t):
    """A pipelined getData(watch) then setData on the same node: the notification sits between the two replies."""
    c = t.session()
    c.create(t.path("a"))
    data = c.encode_request(OpCode.GET_DATA, r.GetDataRequest(t.path("a"), True))
    data += c.encode_request(OpCode.SET_DATA, r.SetDataRequest(t.path("a"), b"1", -1))
    data += c.encode_request(OpCode.GET_DATA, r.GetDataRequest(t.path("a"), False))
    c.send_bytes(data)
    c.wait_reply(4)


@scenario("pipeline.error_does_not_stop_later_requests")
def _(t):
    """A failing request in the middle of a pipeline does not affect the ones after it."""
    c = t.session()
    acl_ = [r.ACL(31, r.Id("world", "anyone"))]
    data = c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("a"), b"", acl_, 0))
    data += c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("a"), b"", acl_, 0))
    data += c.encode_request(OpCode.DELETE, r.DeleteRequest(t.path("missing"), -1))
    data += c.encode_request(OpCode.CREATE, r.CreateRequest(t.path("b"), b"", acl_, 0))
    c.send_bytes(data)
    c.wait_reply(4)


@scenario("pipeline.close_session_last")
def _(t):
    """Requests pipelined before closeSession in one write are all answered, in order, before the close."""
    c = t.session()
    data = c.encode_request(OpCode.EXISTS, r.ExistsRequest(t.root, False))
    data += c.encode_request(OpCode.GET_CHILDREN, r.GetChildrenRequest(t.root, False))
    data += c.encode_request(OpCode.CLOSE_SESSION)
    c.send_bytes(data)
    c.wait_close()


# No scenario pipelines requests *after* closeSession: whether they get SESSIONEXPIRED replies
# before the close is a race in ZooKeeper.

# No scenario pipelines a request before an unknown opcode: ZooKeeper answers an unknown opcode
# straight from the connection thread (UnimplementedRequestProcessor, outside the request
# pipeline) and then closes, so the earlier request's reply may come after it or be lost: racy.


# No scenario pipelines good requests before a bad frame length: ZooKeeper closes the connection
# as soon as it reads the length, and the replies still in its pipeline may or may not be sent.


@scenario("body.empty_for_ops_that_need_one")
def _(t):
    """exists, getData, create and setData with an empty body: MARSHALLINGERROR per request; zxid use."""
    c = t.session()
    c.ping()
    for op in (OpCode.EXISTS, OpCode.GET_DATA, OpCode.CREATE, OpCode.SET_DATA, OpCode.GET_CHILDREN2, OpCode.SET_ACL):
        c.raw_request(op, b"", timeout_s=2)
        if c.closed:
            return
    c.ping()


@scenario("body.extra_bytes_on_bodiless_ops")
def _(t):
    """ping, whoAmI and closeSession carrying 8 stray body bytes."""
    c = t.session()
    c.raw_request(OpCode.PING, b"\x00" * 8, xid=Xid.PING)
    c.raw_request(OpCode.WHO_AM_I, b"\x01" * 8)
    c.raw_request(OpCode.CLOSE_SESSION, b"\x02" * 8)
    c.wait_close()


@scenario("body.garbage_bytes")
def _(t):
    """A getData whose body is random-looking bytes (a huge string length)."""
    c = t.session()
    c.raw_request(OpCode.GET_DATA, bytes.fromhex("7f00ff10deadbeef"), timeout_s=2)
    if not c.closed:
        c.ping()


@scenario("body.raw_header_only_create")
def _(t):
    """A create frame that is exactly a RequestHeader (no body at all)."""
    c = t.session()
    c.ping()
    c.expect_reply(3, OpCode.CREATE)
    c.send_frame(raw_request(3, OpCode.CREATE))
    c.wait_for(lambda e: e.kind in ("reply", "closed"), "reply or close", 2)
    if not c.closed:
        c.ping()
