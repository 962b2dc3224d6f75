"""Shared kit of the storage tests (unit and compat): real txns, tree views, data dirs.

- ``record_workload()`` drives the project's own core server (in process, fake
  clock) through a varied workload -- sessions, persistent / ephemeral /
  sequential / container / TTL nodes, ACLs of every scheme, setData, setACL,
  deletes, multis that succeed and fail, failed requests (error txns), a
  closed and an expired session -- with a ``RecordingLog`` at its log seam,
  so the txns are exactly the ones the server would make durable.
- ``tree_view(tree)`` is everything a client can observe of a DataTree (per
  path: client Stat, data, ACL, children in getChildren order), for equality.
- ``write_datadir(...)`` lays a data dir out from txns with our writers:
  snapshots (optionally fuzzy) and rolled, preallocated log files with
  digests, as ZooKeeper would have written them.

The file is named test_* only because the storage tests may add no other
file; its few tests check the kit itself.
"""

from __future__ import annotations

from pathlib import Path

from protocol import records
from protocol.codes import OpCode
from protocol.records import ACL, Id, TxnDigest
from zkcompat.core.clock import FakeClock
from zkcompat.core.config import ServerConfig
from zkcompat.core.server import ZooKeeperServer
from zkcompat.core.tree import DataTree
from zkcompat.storage.digest import DIGEST_VERSION, tree_digest
from zkcompat.storage.snapshot import ZxidDigest, save_snapshot
from zkcompat.storage.txnlog import TxnLogWriter

from .corekit import CoreClient

WORLD = [ACL(31, Id("world", "anyone"))]
READ_WORLD = [ACL(1, Id("world", "anyone"))]
# digest of user1:pw1 (DigestAuthenticationProvider.generateDigest)
USER1_DIGEST = "user1:VDD1jyWXr2kHV+hoSDibJLmk0/Q="
PERSISTENT, EPHEMERAL, PERSISTENT_SEQ, EPHEMERAL_SEQ, CONTAINER, TTL, TTL_SEQ = 0, 1, 2, 3, 4, 5, 6


class RecordingLog:
    """A TxnLog that keeps every (TxnHeader, txn) handed to it, re-decoded from bytes, and confirms at once."""

    def __init__(self):
        self.txns: list[tuple] = []

    def append(self, hdr, txn, done, entry=None) -> None:
        from zkcompat.storage.txnlog import marshal_entry, unmarshal_entry

        data = marshal_entry(hdr, txn)
        assert entry is None or entry == data, "a spliced entry differs from the txn it stands for"
        h, t, _ = unmarshal_entry(data)
        self.txns.append((h, t))
        done()

    def close(self) -> None:
        pass


def record_workload(*, expire: bool = True):
    """Run the varied workload on an in-process core server; returns (server, txns, clock)."""
    log = RecordingLog()
    clock = FakeClock()
    server = ZooKeeperServer(ServerConfig(extended_types=True, container_check_interval_ms=0), clock, txn_log=log)
    server.start()
    a = CoreClient(server).connect(timeout=30000)
    b = CoreClient(server).connect(timeout=10000)
    c = CoreClient(server).connect(timeout=4000)
    assert a.auth("digest", b"user1:pw1").err == 0

    def ok(result):
        assert result[0] == 0, result
        return result[1]

    ok(a.create("/app", b"app data"))
    for i in range(14):  # past 6 children the parent's HashSet grows: children order changes
        ok(a.create("/app/n%02d" % i, bytes(range(i % 256)) * i))
    for i in (3, 7, 11):
        assert a.delete("/app/n%02d" % i)[0] == 0
    for v in range(3):
        ok(a.set_data("/app/n01", b"v%d" % v))
    ok(a.set_data("/", b"root data"))
    for _ in range(3):
        ok(a.create("/app/seq-", b"s", flags=PERSISTENT_SEQ, op=OpCode.CREATE2))
    ok(b.create("/app/eph", b"b's", flags=EPHEMERAL))
    ok(b.create("/app/eph-seq-", b"", flags=EPHEMERAL_SEQ))
    ok(c.create("/app/gone", b"c's", flags=EPHEMERAL))  # c expires below
    ok(a.create("/acl"))
    ok(a.create("/acl/digest", b"d", acl=[ACL(31, Id("digest", USER1_DIGEST))]))
    ok(a.create("/acl/ip", b"i", acl=[ACL(19, Id("ip", "127.0.0.1")), ACL(1, Id("ip", "10.0.0.0/8"))]))
    ok(a.create("/acl/world", b"w", acl=READ_WORLD))
    ok(a.create("/acl/auth", b"a", acl=[ACL(31, Id("auth", ""))]))
    err, _ = a.call(OpCode.SET_ACL, records.SetACLRequest("/acl/ip", WORLD, 0), records.SetACLResponse)
    assert err == 0
    ok(a.create("/box", b"", flags=CONTAINER, op=OpCode.CREATE_CONTAINER))
    ok(a.create("/box/item", b"x"))
    assert a.delete("/box/item")[0] == 0
    err, _ = a.call(OpCode.CREATE_TTL, records.CreateTTLRequest("/ttl", b"t", WORLD, TTL, 3_600_000),
                    records.Create2Response)
    assert err == 0
    err, _ = a.call(OpCode.CREATE_TTL, records.CreateTTLRequest("/ttl-seq-", b"t", WORLD, TTL_SEQ, 60_000),
                    records.Create2Response)
    assert err == 0
    ok(a.create("/d"))
    p = "/d"
    for i in range(6):
        p += "/%d" % i
        ok(a.create(p, b"deep"))
    ok(a.create("/app/\u00fcn\u00ef\u20acode", "\u2603".encode()))
    ok(a.create("/big", bytes(range(256)) * 2000))
    ok(a.create("/null-data", None))
    r, _ = a.multi([
        (OpCode.CREATE, records.CreateRequest("/multi", b"m", WORLD, 0)),
        (OpCode.CREATE, records.CreateRequest("/multi/a", b"a", WORLD, 0)),
        (OpCode.SET_DATA, records.SetDataRequest("/app", b"set in multi", -1)),
        (OpCode.CHECK, records.CheckVersionRequest("/app", 1)),
        (OpCode.DELETE, records.DeleteRequest("/app/n05", -1)),
    ])
    assert r.err == 0
    a.multi([  # fails on the check: logged as a multi of error txns
        (OpCode.CREATE, records.CreateRequest("/multi/never", b"", WORLD, 0)),
        (OpCode.CHECK, records.CheckVersionRequest("/app", 99)),
    ])
    assert a.create("/app")[0] != 0  # NODEEXISTS: an error txn
    assert a.delete("/nope")[0] != 0  # NONODE: an error txn
    if expire:
        clock.advance(6001)  # c's 4 s session expires: closeSession deletes /app/gone
        for cl in (a, b):  # the others ping to stay alive
            cl.request(OpCode.PING, xid=-2)
    assert CoreClient(server).connect(timeout=10000).close_session().err == 0  # a session opened and closed
    return server, log.txns, clock


def open_sessions(server) -> dict[int, int]:
    return {sid: s.timeout_ms for sid, s in server.sessions.sessions.items() if not s.closing}


def apply_all(txns, tree: DataTree | None = None, sessions: dict | None = None):
    """A fresh (or given) tree with ``txns`` applied, and the session table they leave."""
    tree = tree if tree is not None else DataTree(extended_types=True)
    sessions = {} if sessions is None else sessions
    for hdr, txn in txns:
        if hdr.type == OpCode.CREATE_SESSION:
            sessions[hdr.client_id] = txn.time_out
        elif hdr.type == OpCode.CLOSE_SESSION:
            sessions.pop(hdr.client_id, None)
        tree.apply(hdr, txn)
    return tree, sessions


def stat_tuple(stat) -> tuple:
    return (stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion, stat.aversion,
            stat.ephemeral_owner, stat.data_length, stat.num_children, stat.pzxid)


def acl_tuple(acl) -> tuple:
    return tuple((a.perms, a.id.scheme, a.id.id) for a in (acl or ()))


def tree_view(tree: DataTree) -> dict:
    """path -> (client Stat tuple, data, ACL tuple, children in getChildren order)."""
    out = {}
    for path, node in tree.nodes.items():
        if path == "":
            continue
        out[path] = (stat_tuple(tree.stat_of(node)), node.data, acl_tuple(node.acl), tuple(node.child_names()))
    return out


def persisted_view(tree: DataTree) -> dict:
    """path -> the stored fields (stored cversion, raw ephemeralOwner), data, ACL, children as a set."""
    return {
        path: (node.czxid, node.mzxid, node.ctime, node.mtime, node.version, node.cversion, node.aversion,
               node.ephemeral_owner, node.pzxid, node.data, acl_tuple(node.acl), frozenset(node.child_names()))
        for path, node in tree.nodes.items() if path != ""
    }


def write_datadir(data_dir, txns, *, snapshots=(), fuzzy: dict | None = None, roll_every: int = 0,
                  prealloc_size: int = 1 << 16, compression: str | None = None, digests: bool = True,
                  log_dir=None) -> tuple[DataTree, dict]:
    """Lay out ``data_dir`` from ``txns``: logs of all of them, snapshots after the given zxids.

    ``fuzzy`` maps a snapshot zxid to how many later txns the snapshot already
    holds (it is named after the zxid but written after those txns, as a
    ZooKeeper snapshot taken while the tree kept changing).  Returns the final
    tree and sessions.
    """
    vdir = Path(data_dir) / "version-2"
    ldir = Path(log_dir) / "version-2" if log_dir is not None else vdir
    vdir.mkdir(parents=True, exist_ok=True)
    tree = DataTree(extended_types=True)
    sessions: dict = {}
    writer = TxnLogWriter(ldir, prealloc_size=prealloc_size)
    fuzzy = fuzzy or {}
    pending = {}  # zxid at which to write a fuzzy snapshot -> its name zxid
    want = set(snapshots)
    if 0 in want:
        save_snapshot(vdir, tree, {}, 0, compression=compression, digest=digests)
    for i, (hdr, txn) in enumerate(txns):
        if hdr.type == OpCode.CREATE_SESSION:
            sessions[hdr.client_id] = txn.time_out
        elif hdr.type == OpCode.CLOSE_SESSION:
            sessions.pop(hdr.client_id, None)
        tree.apply(hdr, txn)
        # ZooKeeper 3.8 digests every txn but the error txns of failed requests
        with_digest = digests and hdr.type != OpCode.ERROR
        writer.append(hdr, txn, TxnDigest(DIGEST_VERSION, tree.signed_digest) if with_digest else None)
        if roll_every and (i + 1) % roll_every == 0:
            writer.roll()
        z = hdr.zxid
        if z in want:
            extra = fuzzy.get(z, 0)
            if extra:
                pending[txns[min(i + extra, len(txns) - 1)][0].zxid] = z
            else:
                save_snapshot(vdir, tree, sessions, z, compression=compression, digest=digests)
        if z in pending:
            name_zxid = pending.pop(z)
            save_snapshot(vdir, tree, sessions, name_zxid, compression=compression,
                          digest=ZxidDigest(tree.last_processed_zxid, DIGEST_VERSION, tree.signed_digest)
                          if digests else None)
    writer.commit()
    writer.close()
    assert tree.signed_digest == tree_digest(tree)
    return tree, sessions


def test_kit_workload_covers_every_txn_type():
    """The recorded workload holds every txn type the storage code must handle."""
    _, txns, _ = record_workload()
    types = {h.type for h, _ in txns}
    for t in (OpCode.CREATE_SESSION, OpCode.CLOSE_SESSION, OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_TTL,
              OpCode.CREATE_CONTAINER, OpCode.DELETE, OpCode.SET_DATA, OpCode.SET_ACL, OpCode.ERROR, OpCode.MULTI):
        assert t in types, OpCode(t).name


def test_kit_replaying_the_recorded_txns_rebuilds_the_server_tree():
    """Applying the recorded txns to a fresh tree gives exactly the server's tree and sessions."""
    server, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    assert tree_view(tree) == tree_view(server.tree)
    assert sessions == open_sessions(server)
