"""multi and multiRead: success results, each failure shape, zxid consumption, watches, malformed bodies."""

from __future__ import annotations

from protocol import messages, records as r
from protocol.codes import CreateMode, OpCode

from ..client import OPEN_ACL, READ_ACL
from ..client import MultiOp as M
from . import scenario
from .common import int32


@scenario("multi.success.mixed")
def _(t):
    """create, setData, check and delete in one multi: one zxid, one result per op, in order."""
    c = t.session()
    c.create(t.path("old"), b"o")
    c.multi(
        [
            M.create(t.path("a"), b"1"),
            M.set_data(t.path("a"), b"2"),
            M.check(t.path("a"), 1),
            M.delete(t.path("old")),
            M.create(t.path("b"), b"", flags=CreateMode.EPHEMERAL),
        ]
    )
    c.get_data(t.path("a"))
    c.get_children2(t.root)


@scenario("multi.success.create_kinds")
def _(t):
    """Every create opcode inside multi (create, createContainer, createTTL): the result records."""
    c = t.session()
    c.multi(
        [
            M.create(t.path("p")),
            M.create(t.path("c"), flags=CreateMode.CONTAINER, op=OpCode.CREATE_CONTAINER),
            M.create_ttl(t.path("t"), ttl=3_600_000),
            M.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL),
        ]
    )
    c.get_children(t.root)


@scenario("multi.create2_result")
def _(t):
    """create2 inside multi: 3.8.0 answers a plain create result (ZOOKEEPER-4026 adds the Stat in 3.8.2)."""
    c = t.session()
    c.multi([M.create(t.path("a"), b"x", op=OpCode.CREATE2)])
    c.exists(t.path("a"))


@scenario("multi.empty")
def _(t):
    """An empty multi succeeds with an empty result list; whether it consumes a zxid."""
    c = t.session()
    c.ping()
    c.multi([])
    c.ping()


@scenario("multi.dependent_ops")
def _(t):
    """Later ops see earlier ops of the same multi: create a parent then its child, then delete both."""
    c = t.session()
    c.multi([M.create(t.path("p")), M.create(t.path("p", "c")), M.set_data(t.path("p", "c"), b"v")])
    c.get_children2(t.path("p"))
    c.multi([M.delete(t.path("p", "c")), M.delete(t.path("p"))])
    c.exists(t.path("p"))


@scenario("multi.set_data_twice_versions")
def _(t):
    """Two setData of one node in one multi: the second sees the first's version."""
    c = t.session()
    c.create(t.path("a"))
    c.multi([M.set_data(t.path("a"), b"1", 0), M.set_data(t.path("a"), b"2", 1)])
    c.exists(t.path("a"))


@scenario("multi.failure.first_op")
def _(t):
    """The first op fails: its error, then RUNTIMEINCONSISTENCY for every later op; nothing applied; zxid consumed."""
    c = t.session()
    c.ping()
    c.multi([M.delete(t.path("missing")), M.create(t.path("a")), M.create(t.path("b"))])
    c.get_children(t.root)
    c.ping()


@scenario("multi.failure.middle_op")
def _(t):
    """The middle op fails: OK before it, its error, RUNTIMEINCONSISTENCY after; the earlier create is rolled back."""
    c = t.session()
    c.create(t.path("exists"))
    c.multi([M.create(t.path("a")), M.create(t.path("exists")), M.set_data(t.path("exists"), b"x")])
    c.get_children(t.root)
    c.exists(t.path("exists"))


@scenario("multi.failure.last_op")
def _(t):
    """The last op fails with BADVERSION: every earlier op reports OK yet nothing is applied."""
    c = t.session()
    c.create(t.path("v"))
    c.multi([M.create(t.path("a")), M.set_data(t.path("v"), b"1"), M.check(t.path("v"), 5)])
    c.get_children(t.root)
    c.exists(t.path("v"))


@scenario("multi.failure.check_missing")
def _(t):
    """check of a missing node inside multi is NONODE."""
    c = t.session()
    c.multi([M.check(t.path("missing"), 0), M.create(t.path("a"))])


@scenario("multi.failure.not_empty")
def _(t):
    """delete of a non-empty node inside multi is NOTEMPTY; deleting the child first in the same multi works."""
    c = t.session()
    c.create(t.path("p"))
    c.create(t.path("p", "c"))
    c.multi([M.delete(t.path("p"))])
    c.multi([M.delete(t.path("p", "c")), M.delete(t.path("p"))])
    c.exists(t.path("p"))


@scenario("multi.failure.bad_path")
def _(t):
    """An invalid path inside multi is BADARGUMENTS for that op."""
    c = t.session()
    c.multi([M.create(t.path("ok")), M.create(t.path("bad") + "/")])


@scenario("multi.failure.invalid_acl")
def _(t):
    """An empty ACL inside multi is INVALIDACL for that op."""
    c = t.session()
    c.multi([M.create(t.path("a"), b"", [])])


@scenario("multi.failure.noauth")
def _(t):
    """A setData without WRITE inside multi is NOAUTH."""
    c = t.session()
    c.create(t.path("ro"), b"", READ_ACL)
    c.multi([M.set_data(t.path("ro"), b"x"), M.create(t.path("a"))])


@scenario("multi.failure.ephemeral_parent")
def _(t):
    """Creating under an ephemeral created earlier in the same multi is NOCHILDRENFOREPHEMERALS."""
    c = t.session()
    c.multi([M.create(t.path("e"), flags=CreateMode.EPHEMERAL), M.create(t.path("e", "x"))])


@scenario("multi.failure.duplicate_create")
def _(t):
    """Creating one path twice in one multi: NODEEXISTS at the second."""
    c = t.session()
    c.multi([M.create(t.path("a")), M.create(t.path("a"))])


@scenario("multi.failure.bad_ttl")
def _(t):
    """A createTTL with ttl 0 inside multi is BADARGUMENTS."""
    c = t.session()
    c.multi([M.create(t.path("a")), M.create_ttl(t.path("t"), ttl=0)])


@scenario("multi.failure.then_success_zxids")
def _(t):
    """A failed multi consumes one zxid; the next successful multi's zxid follows it."""
    c = t.session()
    c.ping()
    c.multi([M.create(t.path("a")), M.delete(t.path("missing"))])
    c.multi([M.create(t.path("a")), M.create(t.path("b"))])
    c.get_children2(t.root)


@scenario("multi.sequential_counter")
def _(t):
    """Sequential creates in one multi get consecutive counters; a failed multi does not advance them."""
    c = t.session()
    c.multi([M.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)] * 3)
    c.multi([M.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL), M.delete(t.path("missing"))])
    c.create(t.path("s-"), flags=CreateMode.PERSISTENT_SEQUENTIAL)


@scenario("multi.read_op_in_multi")
def _(t):
    """A getData op inside a write multi (opcode 14)."""
    c = t.session()
    c.ping()
    c.create(t.path("a"), b"v")
    c.multi([M.get_data(t.path("a"))], timeout_s=3)
    if not c.closed:
        c.ping()


@scenario("multi.unknown_op_type")
def _(t):
    """A multi carrying an op type that multi does not know (sync, 9)."""
    c = t.session()
    c.ping()
    body = r.MultiHeader.encode(r.MultiHeader(9, False, -1)) + r.SyncRequest(t.root).to_bytes()
    body += r.MultiHeader.encode(r.MultiHeader(-1, True, -1))
    c.raw_request(OpCode.MULTI, body, timeout_s=3)
    if not c.closed:
        c.ping()


@scenario("multi.truncated_body")
def _(t):
    """A multi cut off inside its second op: MARSHALLINGERROR (or a close), and whether a zxid is consumed."""
    c = t.session()
    c.ping()
    body = messages.encode_multi([M.create(t.path("a")), M.create(t.path("b"))])
    c.raw_request(OpCode.MULTI, body[:-20], timeout_s=3)
    if not c.closed:
        c.get_children(t.root)


@scenario("multi.missing_terminator")
def _(t):
    """A multi whose last op is not followed by the done header."""
    c = t.session()
    c.ping()
    body = (
        r.MultiHeader.encode(r.MultiHeader(OpCode.CREATE, False, -1))
        + r.CreateRequest(t.path("a"), b"", OPEN_ACL, 0).to_bytes()
    )
    c.raw_request(OpCode.MULTI, body, timeout_s=3)
    if not c.closed:
        c.get_children(t.root)


@scenario("multi.header_err_field_ignored")
def _(t):
    """Request MultiHeaders with err=7 instead of -1 are accepted."""
    c = t.session()
    body = (
        r.MultiHeader.encode(r.MultiHeader(OpCode.CREATE, False, 7))
        + r.CreateRequest(t.path("a"), b"", OPEN_ACL, 0).to_bytes()
    )
    body += r.MultiHeader.encode(r.MultiHeader(-1, True, 7))
    c.raw_request(OpCode.MULTI, body)
    c.get_children(t.root)


@scenario("multi.watches_fire_once_per_node")
def _(t):
    """A multi touching several watched nodes: the notifications, in order, then the reply."""
    c = t.session()
    w = t.session()
    c.create(t.path("a"), b"")
    c.create(t.path("b"), b"")
    w.get_data(t.path("a"), watch=True)
    w.exists(t.path("b"), watch=True)
    w.exists(t.path("n"), watch=True)
    w.get_children(t.root, watch=True)
    c.multi([M.set_data(t.path("a"), b"1"), M.delete(t.path("b")), M.create(t.path("n"))])
    w.barrier()


@scenario("multi.failed_fires_nothing")
def _(t):
    """A failed multi fires no watches."""
    c = t.session()
    w = t.session()
    c.create(t.path("a"))
    w.get_data(t.path("a"), watch=True)
    w.get_children(t.root, watch=True)
    c.multi([M.set_data(t.path("a"), b"1"), M.create(t.path("x")), M.delete(t.path("missing"))])
    w.barrier()


@scenario("multi.own_watch_before_reply")
def _(t):
    """The multi's own session watched a node: its notification arrives before the multi reply."""
    c = t.session()
    c.create(t.path("a"))
    c.get_data(t.path("a"), watch=True)
    c.multi([M.set_data(t.path("a"), b"1")])


@scenario("multi.many_ops")
def _(t):
    """A multi of 200 creates: 200 results, one zxid."""
    c = t.session()
    c.multi([M.create(t.path("n%03d" % i)) for i in range(200)])
    c.get_all_children_number(t.root)


# --- multiRead -----------------------------------------------------------------------------------


@scenario("multi_read.basic")
def _(t):
    """multiRead returns getData and getChildren results in order; no zxid consumed."""
    c = t.session()
    c.create(t.path("a"), b"va")
    c.create(t.path("a", "k"))
    c.ping()
    c.multi_read([M.get_data(t.path("a")), M.get_children(t.path("a")), M.get_data(t.path("a", "k"))])
    c.ping()


@scenario("multi_read.partial_errors")
def _(t):
    """multiRead reports per-op errors (NONODE) without RUNTIMEINCONSISTENCY for the rest."""
    c = t.session()
    c.create(t.path("a"), b"va")
    c.multi_read(
        [
            M.get_data(t.path("missing")),
            M.get_data(t.path("a")),
            M.get_children(t.path("missing")),
            M.get_children(t.path("a")),
        ]
    )


@scenario("multi_read.empty")
def _(t):
    """An empty multiRead."""
    c = t.session()
    c.multi_read([])


@scenario("multi_read.write_op")
def _(t):
    """A create inside multiRead."""
    c = t.session()
    c.multi_read([M.create(t.path("a"))], timeout_s=3)
    if not c.closed:
        c.exists(t.path("a"))


@scenario("multi_read.watch_flags")
def _(t):
    """multiRead ops with watch=true set watches that fire later."""
    c = t.session()
    c.create(t.path("a"), b"")
    c.multi_read([M.get_data(t.path("a"), watch=True), M.get_children(t.root, watch=True)])
    c.set_data(t.path("a"), b"1")
    c.create(t.path("b"))


@scenario("multi_read.check_op")
def _(t):
    """A check op inside multiRead."""
    c = t.session()
    c.create(t.path("a"))
    c.multi_read([M.check(t.path("a"), 0)], timeout_s=3)
    if not c.closed:
        c.ping()


@scenario("multi_read.bad_path")
def _(t):
    """multiRead with an invalid path."""
    c = t.session()
    c.multi_read([M.get_data("noslash"), M.get_children(t.root + "/")])


@scenario("multi.truncated_op_count")
def _(t):
    """A multi body of four bytes."""
    c = t.session()
    c.ping()
    c.raw_request(OpCode.MULTI, int32(1), timeout_s=3)
    if not c.closed:
        c.ping()
