"""The create/setData fast path (zkcompat.core.fastwrite) against the general one.

Two servers get the same requests, one with the fast path and one without it;
their logs (entry bytes), replies (every byte each client received) and trees
must be equal.  The requests are random and include everything the fast path
must hand over: bad paths, flags, ACLs and versions, missing or ephemeral
parents, ACL refusals, truncated bodies, and writes piling up in flight (the
log confirms only now and then), where prep's change records decide.
"""

from __future__ import annotations

import random
import struct

import pytest

from protocol import records
from protocol.codes import OpCode
from protocol.framing import frame
from zkcompat.storage.txnlog import marshal_entry

from .corekit import CoreClient, make_server

WORLD = [records.ACL(31, records.Id("world", "anyone"))]


class HeldLog:
    """Keeps every entry and confirms only when told, so that writes pile up in flight."""

    def __init__(self):
        self.entries: list[bytes] = []
        self.waiting: list = []
        self.spliced = 0

    def append(self, hdr, txn, done, entry=None) -> None:
        full = marshal_entry(hdr, txn)
        if entry is not None:
            assert entry == full, "a spliced entry differs from the txn it stands for"
            self.spliced += 1
        self.entries.append(full)
        self.waiting.append(done)

    def confirm(self) -> None:
        waiting, self.waiting = self.waiting, []
        for done in waiting:
            done()

    def close(self) -> None:
        pass


class World:
    """A server with three clients: two plain ones and one authenticated as digest user ``u``."""

    def __init__(self, fast: bool):
        self.server, self.clock = make_server()
        if not fast:
            self.server._fast_writes = {}
        self.hits = {"create": 0, "setData": 0}
        if fast:
            for op, name in ((OpCode.CREATE, "create"), (OpCode.CREATE2, "create"), (OpCode.SET_DATA, "setData")):
                self.server._fast_writes[op] = self._counting(self.server._fast_writes[op], name)
        CoreClient._port = 50000  # both worlds see the same client addresses
        self.clients = [CoreClient(self.server).connect() for _ in range(3)]
        self.clients[2].auth("digest", b"u:pw")
        a, b, u = self.clients
        assert a.create("/a")[0] == 0
        assert a.create("/a/e", flags=1)[0] == 0
        assert u.create("/r", acl=[records.ACL(31, records.Id("auth", ""))])[0] == 0
        assert a.create("/ro", acl=[records.ACL(1, records.Id("world", "anyone"))])[0] == 0
        assert a.create("/c", flags=4)[0] == 0
        self.log = HeldLog()
        self.server.log = self.log
        self.hits = {"create": 0, "setData": 0}  # from here on

    def _counting(self, handler, name):
        def counted(*args):
            took = handler(*args)
            self.hits[name] += took
            return took
        return counted

    def send(self, client: int, data: bytes) -> None:
        c = self.clients[client]
        c.conn.data_received(data)
        self.server.flush()

    def confirm(self) -> None:
        self.log.confirm()
        self.server.flush()

    def snapshot(self):
        tree = self.server.tree
        nodes = {p: (n.data, tree.stat_bytes(n), [(a.perms, a.id.scheme, a.id.id) for a in n.acl],
                     n.child_names()) for p, n in tree.nodes.items()}
        return nodes, tree.digest, [bytes(c.transport.data) for c in self.clients], self.log.entries


def _ustr(s) -> bytes:
    if s is None:
        return struct.pack(">i", -1)
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack(">i", len(b)) + b


def _buffer(data) -> bytes:
    return struct.pack(">i", -1) if data is None else struct.pack(">i", len(data)) + data


def _acl(entries) -> bytes:
    if entries is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(entries)) + b"".join(
        struct.pack(">i", perms) + _ustr(scheme) + _ustr(ident) for perms, scheme, ident in entries)


# paths that can be created or set (the fast path's business), and paths that fail somewhere
GOOD_PATHS = ["/a/x", "/a/y", "/a/x/z", "/a/x/z/w", "/a/s-", "/a/x/s-", "/a/k", "/a/l", "/c/x", "/a", "/ro"]
BAD_PATHS = ["/a/e/x", "/missing/x", "/a/", "/r/x", "/ro/x", "/a/\u00e9", "/a/./b", "/a//b", "a", "", None,
             "/a/x\0y", "/zookeeper/x", "/", "/a/e", "/c", "/r", "/zookeeper", "/a/.", "/a/..", "/a/x/.", "//a",
             "/a/.x", "/a/x\x7f"]


def _path(rng):
    return rng.choice(GOOD_PATHS) if rng.random() < 0.75 else rng.choice(BAD_PATHS)
ACLS = [[(31, "world", "anyone")]] * 6 + [[(1, "world", "anyone")], [(0, "world", "anyone")], [], None,
                                          [(31, "world", "anyone"), (31, "world", "anyone")],
                                          [(31, "auth", "")], [(31, "digest", "u:x")], [(31, "world", "nobody")],
                                          [(31, "ip", "127.0.0.1")]]
DATAS = [b"", b"v", b"x" * 300, None]


def _create_body(rng) -> bytes:
    flags = rng.choice([0, 0, 1, 2, 3, 3, 4, 5, 6, 7, -1])
    return _ustr(_path(rng)) + _buffer(rng.choice(DATAS)) + _acl(rng.choice(ACLS)) + struct.pack(">i", flags)


def _set_data_body(rng) -> bytes:
    version = rng.choice([-1, -1, -1, 0, 1, 2, 3, 5, -2])
    return _ustr(_path(rng)) + _buffer(rng.choice(DATAS)) + struct.pack(">i", version)


def _requests(seed: int, count: int):
    rng = random.Random(seed)
    xids = [100, 100, 100]
    out = []
    for _ in range(count):
        client = rng.randrange(3)
        roll = rng.random()
        if roll < 0.45:
            op, body = rng.choice([OpCode.CREATE, OpCode.CREATE2]), _create_body(rng)
        elif roll < 0.85:
            op, body = OpCode.SET_DATA, _set_data_body(rng)
        else:
            op, body = OpCode.DELETE, _ustr(_path(rng)) + struct.pack(">i", -1)
        if rng.random() < 0.05:
            body = body[: rng.randrange(len(body) + 1)]  # truncated
        elif rng.random() < 0.05:
            body += b"\x00\x01"  # trailing bytes, which ZooKeeper ignores
        xids[client] += 1
        out.append((client, frame(records.RequestHeader(xids[client], op).to_bytes() + body),
                    rng.random() < 0.2))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_the_fast_path_writes_what_the_general_path_writes(seed):
    worlds = [World(fast=True), World(fast=False)]
    for client, data, confirm in _requests(seed, 600):
        for w in worlds:
            w.send(client, data)
            if confirm:
                w.confirm()
    for w in worlds:
        w.confirm()
    fast, general = worlds
    assert fast.snapshot() == general.snapshot()
    # the fast path took a share of the requests, and handed the rest over
    assert fast.hits["create"] > 10 and fast.hits["setData"] > 10, fast.hits
    assert fast.log.spliced == fast.hits["create"] + fast.hits["setData"]
    assert general.log.spliced == 0
    assert len(fast.log.entries) > fast.log.spliced


def test_sequential_names_follow_the_parent_cversion_in_flight():
    w = World(fast=True)
    a = w.clients[0]
    answered = len(a.replies())
    body = _ustr("/a/s-") + _buffer(b"") + _acl([(31, "world", "anyone")]) + struct.pack(">i", 2)
    for xid in range(1, 4):
        w.send(0, frame(records.RequestHeader(xid, OpCode.CREATE).to_bytes() + body))
    assert w.hits["create"] == 3
    assert len(a.replies()) == answered  # nothing is answered before the log confirms
    w.confirm()
    names = [records.CreateResponse.from_bytes(r.body).path for r in a.replies()[-3:]]
    # /a had /a/e and no other child created: cversion 1 when the first of these was prepared
    assert names == ["/a/s-0000000001", "/a/s-0000000002", "/a/s-0000000003"]


def test_a_learner_or_quotas_take_the_general_path():
    body = _ustr("/q/x") + _buffer(b"") + _acl([(31, "world", "anyone")]) + struct.pack(">i", 0)
    buf = records.RequestHeader(9, OpCode.CREATE).to_bytes() + body
    plain, _ = make_server()
    quota, _ = make_server(enforce_quota=True)
    learner, _ = make_server()
    took = []
    for server in (plain, quota, learner):
        c = CoreClient(server).connect()
        assert c.create("/q")[0] == 0
        if server is learner:
            server.forwarder = lambda req: None
        took.append(server._fast_writes[OpCode.CREATE](c.conn, buf, 9, OpCode.CREATE, 0))
    assert took == [True, False, False]


def test_writes_in_flight_see_each_other_as_in_the_general_path():
    """Change records of unconfirmed fast writes decide later requests: an ephemeral parent, a parent
    that gained a child (delete: NOTEMPTY), a version, and a closing session's ephemerals."""
    world = WORLD[0]
    acl = [(world.perms, world.id.scheme, world.id.id)]

    def create(path, flags=0):
        return OpCode.CREATE, _ustr(path) + _buffer(b"d") + _acl(acl) + struct.pack(">i", flags)

    script = [
        (0, create("/a/p", flags=1)), (0, create("/a/p/c")),
        (1, create("/a/q")), (1, create("/a/q/c")), (1, (OpCode.DELETE, _ustr("/a/q") + struct.pack(">i", -1))),
        (1, (OpCode.SET_DATA, _ustr("/a/q/c") + _buffer(b"e") + struct.pack(">i", 0))),
        (1, (OpCode.SET_DATA, _ustr("/a/q/c") + _buffer(b"f") + struct.pack(">i", 0))),
        (0, (OpCode.CLOSE_SESSION, b"")),
        (1, create("/a/p")),
    ]
    worlds = [World(fast=True), World(fast=False)]
    for xid, (client, (op, body)) in enumerate(script, start=1):
        for w in worlds:
            w.send(client, frame(records.RequestHeader(xid, op).to_bytes() + body))
    for w in worlds:
        w.confirm()
    assert worlds[0].hits == {"create": 4, "setData": 1}
    assert worlds[0].snapshot() == worlds[1].snapshot()
    errors = {r.xid: r.err for c in worlds[0].clients[:2] for r in c.replies() if r.xid <= len(script)}
    # NOCHILDRENFOREPHEMERALS, NOTEMPTY, BADVERSION; /a/p is free again once its session closes
    assert errors == {1: 0, 2: -108, 3: 0, 4: 0, 5: -111, 6: 0, 7: -103, 8: 0, 9: 0}


def test_a_fast_write_behind_an_unanswered_request_is_answered_in_its_turn():
    """A fast write that applies while an earlier request of its session still waits for its answer
    is answered after it, with the reply the general path makes from the apply's result."""
    from protocol.codes import ERR
    from zkcompat.core.errors import KeeperError
    from zkcompat.core.prep import PreparedTxn
    from zkcompat.core.server import Request

    world = WORLD[0]
    acl = _acl([(world.perms, world.id.scheme, world.id.id)])
    script = [(OpCode.CREATE, _ustr("/a/h1") + _buffer(b"1") + acl + struct.pack(">i", 0)),
              (OpCode.CREATE2, _ustr("/a/h2") + _buffer(b"2") + acl + struct.pack(">i", 0)),
              (OpCode.SET_DATA, _ustr("/a") + _buffer(b"s") + struct.pack(">i", -1))]
    worlds = [World(fast=True), World(fast=False)]
    for w in worlds:
        conn = w.clients[0].conn
        blocker = Request(conn, conn.session_id, 99, OpCode.SET_DATA, None, 0)
        blocker.prepared = PreparedTxn(None, None, KeeperError(ERR.BADVERSION))
        conn.pending.append(blocker)  # at the head of the queue, not yet answered
        before = len(w.clients[0].transport.data)
        for xid, (op, body) in enumerate(script, start=1):
            w.send(0, frame(records.RequestHeader(xid, op).to_bytes() + body))
        w.confirm()
        assert len(w.clients[0].transport.data) == before  # applied, but nothing answered yet
        blocker.done = True
        w.server._release(conn)
        w.server.flush()
    assert worlds[0].hits == {"create": 2, "setData": 1}
    assert worlds[0].snapshot() == worlds[1].snapshot()
    replies = [(r.xid, r.err) for r in worlds[0].clients[0].replies()][-4:]
    assert replies == [(99, ERR.BADVERSION), (1, 0), (2, 0), (3, 0)]
