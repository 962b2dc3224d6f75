"""Data dirs cross between Apache ZooKeeper 3.8 and zkcompat.storage, in both directions.

(a) ZooKeeper writes, we read: a real ZooKeeper (snapCount tiny, so it rolls
    logs and takes fuzzy snapshots while writes keep coming) gets a varied
    tree from kazoo -- persistent, ephemeral, sequential, container and TTL
    nodes, digest/ip/world ACLs, multis that pass and fail, deletes, setData,
    setACL, a closed session.  Kazoo reads back every node (stat, data, ACL,
    children) before ZooKeeper is stopped with SIGTERM (it takes no snapshot
    at shutdown, but we do not rely on that).  ``datadir.load`` of its data
    dir must match every node and the open sessions, with every logged
    digest checked; and a real ZooKeeper restarted on a copy of the dir must
    answer exactly what our loaded tree holds, getChildren order included.
(b) We write, ZooKeeper reads: the txns of a varied workload on our own core
    are laid out as snapshots (one fuzzy) and rolled log files with digests;
    a real ZooKeeper started on that dir must serve every node, stat, ACL and
    children order that ``datadir.load`` gives, hold our sessions, and count
    no digest mismatch.  Plain, gzip and snappy snapshots.

The real server runs through ``RealZooKeeper`` with ``dataDir`` pointed at a
directory of the test (its ``extra_cfg`` overrides the fresh one it makes).
"""

from __future__ import annotations

import io
import re
import shutil
from collections import namedtuple

import pytest
from compat_helpers import SUPER_PASSWORD, SUPER_USER, digest
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.serialization import Create2, long_struct
from kazoo.security import ACL as KACL
from kazoo.security import Id as KId
from kazoo.security import make_digest_acl

from protocol.codes import OpCode
from tests.unit.test_storage_kit import open_sessions, persisted_view, record_workload, tree_view, write_datadir
from zkcompat.core.tree import DataTree
from zkcompat.servers import RealZooKeeper
from zkcompat.storage import datadir
from zkcompat.storage.digest import tree_digest
from zkcompat.storage.snapshot import snapshot_zxid, write_snapshot
from zkcompat.storage.tools import verify
from zkcompat.storage.txnlog import LogReader

pytestmark = pytest.mark.real_zookeeper

SUPER_DIGEST = digest(SUPER_USER, SUPER_PASSWORD)


def real_zk(data_dir, **cfg) -> RealZooKeeper:
    extra = {"dataDir": str(data_dir)}
    extra.update(cfg)
    return RealZooKeeper(extended_types=True, super_digest=SUPER_DIGEST, extra_cfg=extra)


def client(hosts, timeout, auth=None) -> KazooClient:
    auth_data = [("digest", "%s:%s" % (SUPER_USER, SUPER_PASSWORD))] if auth is None else auth
    c = KazooClient(hosts=hosts, timeout=timeout, auth_data=auth_data)
    c.start(timeout=15)
    return c


class CreateContainer(Create2):
    type = 19


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21

    def serialize(self):
        b = bytearray(Create2(self.path, self.data, self.acl, self.flags).serialize())
        b.extend(long_struct.pack(self.ttl))
        return b

    deserialize = Create2.deserialize


def raw(c: KazooClient, request):
    result = c.handler.async_result()
    c._call(request, result)
    return result.get(timeout=15)


def walk(c: KazooClient) -> dict:
    """Every node as a client sees it: path -> (Stat tuple, data, ACL tuple, children in server order)."""
    out = {}
    stack = ["/"]
    while stack:
        path = stack.pop()
        data, stat = c.get(path)
        acls, _ = c.get_acls(path)
        children = c.get_children(path)
        out[path] = (
            (stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion, stat.aversion,
             stat.ephemeralOwner, stat.dataLength, stat.numChildren, stat.pzxid),
            data,
            tuple((a.perms, a.id.scheme, a.id.id) for a in acls),
            tuple(children),
        )
        stack.extend((path.rstrip("/") + "/" + ch) for ch in children)
    return out


def unordered(view: dict) -> dict:
    return {p: (s, d, a, frozenset(ch)) for p, (s, d, a, ch) in view.items()}


def dumped_sessions(server: RealZooKeeper) -> set[int]:
    """The session ids of the ``dump`` four-letter word's SessionTracker section."""
    text = server.four_letter_word("dump")
    section = text.split("ephemeral nodes dump:")[0]
    return {int(h, 16) - (1 << 64) if int(h, 16) >> 63 else int(h, 16) for h in re.findall(r"0x([0-9a-f]+)", section)}


def snapshot_bytes(tree, sessions, zxid) -> bytes:
    buf = io.BytesIO()
    write_snapshot(buf, tree, sessions, zxid)
    return buf.getvalue()


def mntr_value(server: RealZooKeeper, key: str) -> str:
    for line in server.four_letter_word("mntr").splitlines():
        if line.startswith(key + "\t"):
            return line.split("\t", 1)[1]
    raise AssertionError("%s not in mntr" % key)


def make_varied_tree(hosts: str):
    """Drive a real server through every kind of write; returns the clients left open (their sessions live on)."""
    admin = client(hosts, 30.0)
    owner = client(hosts, 20.0, auth=[("digest", "user1:pw1")])
    closer = client(hosts, 10.0)
    admin.create("/app", b"app data")
    for i in range(14):
        admin.create("/app/n%02d" % i, bytes(range(i)) * i)
    for i in (3, 7, 11):
        admin.delete("/app/n%02d" % i)
    for v in range(3):
        admin.set("/app/n01", b"v%d" % v)
    admin.set("/", b"root data")
    for _ in range(3):
        admin.create("/app/seq-", b"s", sequence=True)
    owner.create("/app/eph", b"owner's", ephemeral=True)
    owner.create("/app/eph-seq-", b"", ephemeral=True, sequence=True)
    closer.create("/app/gone", b"closer's", ephemeral=True)
    closer.create("/app/gone-too", b"", ephemeral=True)
    admin.create("/acl")
    admin.create("/acl/digest", b"d", acl=[make_digest_acl("user1", "pw1", all=True)])
    admin.create("/acl/ip", b"i", acl=[KACL(19, KId("ip", "127.0.0.1")), KACL(1, KId("ip", "10.0.0.0/8"))])
    admin.create("/acl/world", b"w", acl=[KACL(1, KId("world", "anyone"))])
    owner.create("/acl/auth", b"a", acl=[KACL(31, KId("auth", ""))])
    admin.set_acls("/acl/ip", [KACL(31, KId("world", "anyone"))])
    world = [KACL(31, KId("world", "anyone"))]
    raw(admin, CreateContainer("/box", b"", world, 4))
    admin.create("/box/item", b"x")
    admin.delete("/box/item")
    raw(admin, CreateContainer("/box2", b"c", world, 4))
    admin.create("/box2/kept", b"k")
    raw(admin, CreateTTL("/ttl", b"t", world, 5, 3_600_000))
    raw(admin, CreateTTL("/ttl-seq-", b"t", world, 6, 600_000))
    admin.create("/d/0/1/2/3/4", b"deep", makepath=True)
    admin.create("/app/\u00fcn\u00ef\u20acode", "\u2603".encode())
    admin.create("/big", bytes(range(256)) * 2000)
    t = admin.transaction()
    t.create("/multi", b"m")
    t.create("/multi/a", b"a")
    t.set_data("/app", b"set in multi")
    t.check("/app", 1)
    t.delete("/app/n05")
    assert not any(isinstance(r, Exception) for r in t.commit())
    t = admin.transaction()
    t.create("/multi/never", b"")
    t.check("/app", 99)
    assert any(isinstance(r, Exception) for r in t.commit())  # logged as a multi of error txns
    with pytest.raises(NodeExistsError):
        admin.create("/app")
    with pytest.raises(NoNodeError):
        admin.delete("/nope")
    # a burst of async writes, so that snapshots (every few txns) are taken while the tree changes
    admin.create("/burst")
    pending = [admin.create_async("/burst/b%03d" % i, b"%d" % i) for i in range(120)]
    pending += [admin.set_async("/app/n02", b"%d" % i) for i in range(40)]
    pending += [admin.delete_async("/burst/b%03d" % i) for i in range(0, 120, 3)]
    for p in pending:
        p.get(timeout=15)
    closer.stop()  # closeSession: its ephemerals go
    closer.close()
    return admin, owner


def test_zookeeper_data_dir_loads_node_for_node(tmp_path):
    """(a) A real ZooKeeper's data dir loads to exactly the tree and sessions it served, and it reloads the same."""
    data = tmp_path / "zk-data"
    server = real_zk(data, snapCount="16")
    server.start()
    try:
        admin, owner = make_varied_tree(server.hosts)
        live = walk(admin)
        expected_sessions = {admin.client_id[0]: 30000, owner.client_id[0]: 20000}
    finally:
        server.stop()  # SIGTERM
    for c in (admin, owner):
        c.stop()
        c.close()
    vdir = data / "version-2"
    assert len([p for p in vdir.iterdir() if snapshot_zxid(p.name) >= 0]) > 2, "expected several snapshots"
    assert len([p for p in vdir.iterdir() if p.name.startswith("log.")]) > 2, "expected rolled logs"

    # ZooKeeper's first snapshot is byte for byte what we write for a fresh tree
    assert (vdir / "snapshot.0").read_bytes() == snapshot_bytes(DataTree(extended_types=True), {}, 0)
    assert verify(data) == []  # checksums, continuity, coverage, a full replay with digests

    copy = tmp_path / "zk-data-copy"
    shutil.copytree(data, copy)
    result = datadir.load(data)
    report = result.report
    assert report.problems == []
    assert result.sessions == expected_sessions
    assert result.tree.signed_digest == tree_digest(result.tree)  # the running digest the server goes on with
    mine = tree_view(result.tree)
    assert unordered(mine) == unordered(live)  # every node, stat, ACL and data; children as sets
    for snap in datadir.list_snapshots(vdir):  # every (fuzzy) snapshot replays to the same tree, digests agreeing
        older = datadir.load(data, snapshot=snap)
        # A snapshot can hold a txn applied while it was written yet carry the digest of the txn
        # before (ZooKeeper records lastProcessedZxidDigest after applying): the comparison at the
        # snapshot's own point may then differ, in ZooKeeper too.  Every later one must agree.
        at_snapshot = older.report.snapshot_digest.zxid if older.report.snapshot_digest else None
        later = [m for m in older.report.digest_mismatches if m[0] != at_snapshot]
        assert later == [] and older.report.digests_checked > 0, snap
        assert [p for p in older.report.problems if not p.startswith("digest mismatch")] == [], snap
        assert unordered(tree_view(older.tree)) == unordered(mine), snap
        assert older.sessions == expected_sessions
    first = datadir.load(data, snapshot=vdir / "snapshot.0")
    errors = sum(1 for e in LogReader(vdir) if e.header.type == OpCode.ERROR)
    assert errors > 0 and all(e.digest is None for e in LogReader(vdir) if e.header.type == OpCode.ERROR)
    # every txn from the first on, each checked against its logged digest (ZooKeeper logs none for error txns)
    assert first.report.txns_applied == first.last_zxid
    assert first.report.digests_checked == first.report.txns_applied - errors
    assert result.last_zxid == result.tree.last_processed_zxid
    assert result.last_zxid >= max(max(s[1], s[10]) for s, _, _, _ in live.values())

    again = real_zk(copy)
    again.start()
    try:
        c = client(again.hosts, 30.0)
        try:
            reloaded = walk(c)
        finally:
            c.stop()
            c.close()
        sessions = dumped_sessions(again)
    finally:
        again.stop()
    assert reloaded == mine  # getChildren order too: we rebuild children sets as ZooKeeper does
    assert set(expected_sessions) <= sessions


@pytest.mark.parametrize("compression", [None, "gz", "snappy"])
def test_our_data_dir_starts_zookeeper(tmp_path, compression):
    """(b) A data dir we write (fuzzy snapshot + rolled logs with digests) is what a real ZooKeeper serves."""
    server_core, txns, _ = record_workload()
    zxids = [h.zxid for h, _ in txns]
    data = tmp_path / "ours"
    snaps = [zxids[len(zxids) // 3], zxids[2 * len(zxids) // 3]]
    tree, sessions = write_datadir(data, txns, snapshots=snaps, fuzzy={snaps[1]: 5}, roll_every=9,
                                   compression=compression)
    assert sessions == open_sessions(server_core)
    expected = datadir.load(data)
    assert expected.report.problems == []
    assert persisted_view(expected.tree) == persisted_view(tree)
    assert expected.sessions == sessions

    server = real_zk(data)
    server.start()
    try:
        c = client(server.hosts, 30.0)
        try:
            served = walk(c)
        finally:
            c.stop()
            c.close()
        zk_sessions = dumped_sessions(server)
        mismatches = mntr_value(server, "zk_digest_mismatches_count")
    finally:
        server.stop()
    assert served == tree_view(expected.tree)  # every node, stat, ACL, data and children order
    assert set(sessions) <= zk_sessions
    assert mismatches == "0"
