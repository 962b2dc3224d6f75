"""Limits: jute.maxbuffer (65536 on both servers here) on requests and replies, deep paths, many children."""

from __future__ import annotations

from protocol import records as r
from protocol.codes import OpCode

from ..client import OPEN_ACL
from ..servers import JUTE_MAXBUFFER
from . import scenario

HEADER = 8  # RequestHeader


def _create_frame_overhead(path: str) -> int:
    """Bytes of a create request body other than the data itself."""
    return HEADER + len(r.CreateRequest(path, b"", OPEN_ACL, 0).to_bytes())


@scenario("limits.request_exactly_maxbuffer")
def _(t):
    """A create whose frame payload is exactly jute.maxbuffer bytes is accepted."""
    c = t.session()
    p = t.path("a")
    data = b"x" * (JUTE_MAXBUFFER - _create_frame_overhead(p))
    c.create(p, data)
    c.exists(p)


@scenario("limits.request_one_over_maxbuffer")
def _(t):
    """A create whose frame payload is jute.maxbuffer + 1 bytes closes the connection; nothing is created."""
    c = t.session()
    p = t.path("a")
    data = b"x" * (JUTE_MAXBUFFER + 1 - _create_frame_overhead(p))
    c.create(p, data)
    c.wait_close()
    c2 = t.session()
    c2.exists(p)


@scenario("limits.set_data_over_maxbuffer")
def _(t):
    """A setData larger than jute.maxbuffer closes the connection; the node keeps its data."""
    c = t.session()
    c.create(t.path("a"), b"small")
    c.set_data(t.path("a"), b"y" * (JUTE_MAXBUFFER + 10))
    c.wait_close()
    c2 = t.session()
    c2.get_data(t.path("a"))


@scenario("limits.reply_larger_than_maxbuffer")
def _(t):
    """getData of a node whose data nearly fills jute.maxbuffer: the reply frame exceeds it and is still sent."""
    c = t.session()
    p = t.path("a")
    c.create(p, b"z" * (JUTE_MAXBUFFER - _create_frame_overhead(p)))
    c.get_data(p)


@scenario("limits.children_reply_larger_than_maxbuffer")
def _(t):
    """getChildren whose reply (1200 names of 60 bytes) is larger than jute.maxbuffer: sent whole or not."""
    c = t.session()
    with c.unrecorded():  # 1200 identical create replies carry no information
        for i in range(1200):
            c.create(t.path("%04d-%s" % (i, "c" * 55)))
    c.get_all_children_number(t.root)
    c.get_children(t.root, timeout_s=10)
    if not c.closed:
        c.get_children2(t.root, timeout_s=10)


@scenario("limits.deep_path")
def _(t):
    """A path 100 levels deep can be created, read and listed; getAllChildrenNumber counts the chain."""
    c = t.session()
    p = t.root
    with c.unrecorded():
        for _ in range(100):
            p += "/d"
            c.create(p)
    c.exists(p)
    c.get_all_children_number(t.root)
    c.get_data(p)


@scenario("limits.long_path")
def _(t):
    """A 30 000-character path component (well under jute.maxbuffer) is accepted."""
    c = t.session()
    c.create(t.path("L" * 30000))
    c.get_children(t.root)


@scenario("limits.many_acl_entries")
def _(t):
    """A create carrying 1000 ACL entries (duplicates removed) under jute.maxbuffer."""
    from ..client import acl, digest

    c = t.session()
    entries = [acl(1, "digest", digest("user%d" % (i % 500), "p")) for i in range(1000)] + OPEN_ACL
    c.create(t.path("a"), b"", entries)
    c.get_acl(t.path("a"))


@scenario("limits.multi_over_maxbuffer")
def _(t):
    """A multi whose frame exceeds jute.maxbuffer closes the connection; none of its ops happen."""
    from ..client import MultiOp as M

    c = t.session()
    c.multi([M.create(t.path("n%d" % i), b"d" * 2000) for i in range(40)])
    c.wait_close()
    c2 = t.session()
    c2.get_children(t.root)


@scenario("limits.string_longer_than_frame")
def _(t):
    """A getData whose path length field claims more bytes than the frame holds."""
    c = t.session()
    body = (1000).to_bytes(4, "big") + b"/short" + b"\x00"
    c.raw_request(OpCode.GET_DATA, body, timeout_s=2)
    if not c.closed:
        c.ping()
