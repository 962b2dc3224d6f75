"""kazoo against the server: create / get / set / delete / exists / children, stats, naming, errors."""

from __future__ import annotations

import pytest
from compat_helpers import WAIT
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)
from kazoo.protocol.serialization import Create
from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE

MAX_PACKET = 0xFFFFF  # jute.maxbuffer default: the largest request body a server accepts


# --------------------------------------------------------------------------- create / get


def test_create_returns_path_and_get_returns_data_and_stat(zk):
    """create answers the created path; get answers exactly the bytes stored and a fresh stat."""
    assert zk.create("/node", b"hello") == "/node"
    data, stat = zk.get("/node")
    assert data == b"hello"
    assert isinstance(stat, ZnodeStat)
    assert (stat.version, stat.cversion, stat.aversion) == (0, 0, 0)
    assert (stat.dataLength, stat.numChildren, stat.ephemeralOwner) == (5, 0, 0)
    assert stat.czxid == stat.mzxid == stat.pzxid > 0
    assert stat.ctime == stat.mtime > 0


def test_null_data_and_empty_data_are_distinct(zk):
    """A node created with no data reads back as None (jute null), one created with b'' as b''."""
    zk.create("/null", None)
    zk.create("/empty", b"")
    assert zk.get("/null")[0] is None
    assert zk.get("/empty")[0] == b""
    assert zk.get("/null")[1].dataLength == 0
    zk.set("/empty", None)
    assert zk.get("/empty")[0] is None
    zk.set("/null", b"")
    assert zk.get("/null")[0] == b""


def test_binary_data_round_trips(zk):
    """Every byte value survives a create/get round trip unchanged."""
    payload = bytes(range(256)) * 4
    zk.create("/bin", payload)
    assert zk.get("/bin")[0] == payload


def test_create_existing_raises_node_exists(zk):
    """Creating a node twice fails with NodeExistsError and leaves the first node untouched."""
    zk.create("/dup", b"first")
    with pytest.raises(NodeExistsError):
        zk.create("/dup", b"second")
    assert zk.get("/dup")[0] == b"first"


def test_create_without_parent_raises_no_node(zk):
    """Creating below a missing parent fails with NoNodeError."""
    with pytest.raises(NoNodeError):
        zk.create("/missing/child")
    assert zk.exists("/missing") is None


def test_create_makepath_creates_missing_parents(zk):
    """makepath=True creates every missing ancestor (with empty data) and the node itself."""
    assert zk.create("/a/b/c", b"leaf", makepath=True) == "/a/b/c"
    assert zk.get("/a/b/c")[0] == b"leaf"
    assert zk.get_children("/a") == ["b"]
    assert zk.get("/a/b")[1].numChildren == 1


def test_create_include_data_returns_path_and_stat(zk):
    """include_data=True (Create2) answers (path, stat) where stat matches a later exists."""
    path, stat = zk.create("/inc", b"abc", include_data=True)
    assert path == "/inc"
    assert stat == zk.exists("/inc")
    assert stat.dataLength == 3 and stat.version == 0 and stat.czxid == stat.mzxid


def test_ensure_path_creates_chain_and_is_idempotent(zk):
    """ensure_path creates all components and succeeds again when everything exists."""
    zk.ensure_path("/x/y/z")
    assert zk.exists("/x/y/z") is not None
    zk.ensure_path("/x/y/z")
    zk.ensure_path("/x")
    assert zk.get_children("/x/y") == ["z"]


def test_exists_answers_stat_or_none(zk):
    """exists answers None for a missing node and the node's full stat otherwise."""
    assert zk.exists("/nope") is None
    zk.create("/yes", b"12345")
    stat = zk.exists("/yes")
    assert stat == zk.get("/yes")[1]
    assert stat.dataLength == 5


def test_get_missing_raises_no_node(zk):
    """get, get_children, set, delete, get_acls, set_acls of a missing node raise NoNodeError."""
    for call in (
        lambda: zk.get("/gone"),
        lambda: zk.get_children("/gone"),
        lambda: zk.set("/gone", b"x"),
        lambda: zk.delete("/gone"),
        lambda: zk.get_acls("/gone"),
        lambda: zk.set_acls("/gone", OPEN_ACL_UNSAFE),
    ):
        with pytest.raises(NoNodeError):
            call()


def test_unicode_path_round_trips(zk):
    """Non-ASCII node names are stored and listed as the same UTF-8 names."""
    zk.create("/ünïcödé-ノード", b"u")
    assert zk.get_children("/") == ["ünïcödé-ノード"]
    assert zk.get("/ünïcödé-ノード")[0] == b"u"


# --------------------------------------------------------------------------- children


def test_get_children_lists_names_only(zk):
    """get_children answers the child names (no path prefix), in any order, and [] for a leaf."""
    zk.create("/p")
    for name in ("c", "a", "b"):
        zk.create("/p/" + name)
    zk.create("/p/a/grandchild")
    assert sorted(zk.get_children("/p")) == ["a", "b", "c"]
    assert zk.get_children("/p/b") == []


def test_get_children_include_data_returns_parent_stat(zk):
    """get_children(include_data=True) (GetChildren2) answers (children, stat of the parent)."""
    zk.create("/p", b"parent")
    zk.create("/p/one")
    zk.create("/p/two")
    children, stat = zk.get_children("/p", include_data=True)
    assert sorted(children) == ["one", "two"]
    assert stat == zk.exists("/p")
    assert stat.numChildren == 2 and stat.cversion == 2 and stat.dataLength == 6


def test_many_children(zk):
    """A thousand children can be created (pipelined) and are all listed and counted."""
    zk.create("/many")
    results = [zk.create_async("/many/child-%04d" % i) for i in range(1000)]
    created = [r.get(timeout=WAIT) for r in results]
    assert created == ["/many/child-%04d" % i for i in range(1000)]
    children, stat = zk.get_children("/many", include_data=True)
    assert sorted(children) == ["child-%04d" % i for i in range(1000)]
    assert stat.numChildren == 1000 and stat.cversion == 1000


# --------------------------------------------------------------------------- set / delete


def test_set_bumps_version_and_answers_new_stat(zk):
    """set answers the new stat: version+1, new mzxid/mtime/dataLength, czxid/ctime unchanged."""
    _, before = zk.create("/s", b"v0", include_data=True)
    after = zk.set("/s", b"value-1")
    assert after == zk.exists("/s")
    assert after.version == 1
    assert after.dataLength == 7
    assert after.czxid == before.czxid and after.ctime == before.ctime
    assert after.mzxid > before.mzxid and after.mtime >= before.mtime
    assert after.pzxid == before.pzxid
    assert zk.set("/s", b"value-2", version=1).version == 2
    assert zk.get("/s")[0] == b"value-2"


def test_set_with_wrong_version_raises_bad_version(zk):
    """set with a stale version fails with BadVersionError and changes nothing."""
    zk.create("/s", b"orig")
    zk.set("/s", b"one")
    with pytest.raises(BadVersionError):
        zk.set("/s", b"stale", version=0)
    data, stat = zk.get("/s")
    assert data == b"one" and stat.version == 1


def test_set_same_data_still_bumps_version(zk):
    """Setting identical bytes is still a write: version and mzxid move."""
    first = zk.create("/same", b"x", include_data=True)[1]
    second = zk.set("/same", b"x")
    assert second.version == first.version + 1 and second.mzxid > first.mzxid


def test_delete_with_version(zk):
    """delete honours the version: a wrong one raises BadVersionError, the right one deletes."""
    zk.create("/d", b"")
    zk.set("/d", b"x")
    with pytest.raises(BadVersionError):
        zk.delete("/d", version=0)
    assert zk.exists("/d") is not None
    zk.delete("/d", version=1)
    assert zk.exists("/d") is None


def test_delete_non_empty_raises_not_empty(zk):
    """Deleting a node that has children fails with NotEmptyError."""
    zk.create("/parent/child", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete("/parent")
    assert zk.exists("/parent/child") is not None


def test_delete_recursive_removes_whole_subtree(zk):
    """delete(recursive=True) removes a node and everything below it."""
    for path in ("/t/a/1", "/t/a/2", "/t/b", "/t/c/d/e"):
        zk.create(path, makepath=True)
    zk.delete("/t", recursive=True)
    assert zk.exists("/t") is None
    assert zk.get_children("/") == []


def test_delete_missing_raises_no_node(zk):
    """Deleting a missing node raises NoNodeError."""
    with pytest.raises(NoNodeError):
        zk.delete("/never")


# --------------------------------------------------------------------------- stat evolution


def test_stat_field_evolution(zk):
    """version, cversion, aversion, numChildren, dataLength and the zxids move exactly as ZooKeeper's."""
    _, s0 = zk.create("/n", b"abc", include_data=True)
    assert (s0.version, s0.cversion, s0.aversion, s0.numChildren, s0.dataLength) == (0, 0, 0, 0, 3)
    assert s0.czxid == s0.mzxid == s0.pzxid

    s1 = zk.set("/n", b"abcdef")
    assert (s1.version, s1.cversion, s1.dataLength) == (1, 0, 6)
    assert s1.mzxid > s0.mzxid and s1.pzxid == s0.pzxid and s1.czxid == s0.czxid

    _, child = zk.create("/n/c1", include_data=True)
    s2 = zk.exists("/n")
    assert (s2.version, s2.cversion, s2.numChildren) == (1, 1, 1)
    assert s2.pzxid == child.czxid > s1.mzxid
    assert s2.mzxid == s1.mzxid  # a child create is not a data change

    zk.set("/n/c1", b"child data")
    assert zk.exists("/n") == s2  # a child's data change leaves the parent alone

    zk.delete("/n/c1")
    s3 = zk.exists("/n")
    assert (s3.cversion, s3.numChildren) == (2, 0)
    assert s3.pzxid > s2.pzxid  # pzxid is the zxid of the delete
    assert s3.mzxid == s1.mzxid and s3.version == 1

    zk.set_acls("/n", OPEN_ACL_UNSAFE)
    s4 = zk.exists("/n")
    assert (s4.aversion, s4.version, s4.cversion) == (1, 1, 2)
    assert s4.mzxid == s3.mzxid and s4.pzxid == s3.pzxid  # ACL changes touch no zxid

    _, later = zk.create("/other", include_data=True)
    assert later.czxid > s3.pzxid


def test_zxids_increase_across_writes(zk):
    """Each write gets a strictly larger zxid than the previous one."""
    zxids = []
    for i in range(5):
        zxids.append(zk.create("/z%d" % i, include_data=True)[1].czxid)
        zk.get("/z%d" % i)
        zk.exists("/z%d" % i)
    assert zxids == sorted(zxids) and len(set(zxids)) == 5


def test_ctime_mtime_are_epoch_milliseconds(zk):
    """ctime/mtime are wall-clock milliseconds since the epoch."""
    import time

    before = int(time.time() * 1000)
    _, stat = zk.create("/t", include_data=True)
    after = int(time.time() * 1000)
    assert before - 5000 <= stat.ctime <= after + 5000
    assert stat.mtime == stat.ctime


# --------------------------------------------------------------------------- ephemerals & sequentials


def test_ephemeral_owner_is_session_id(zk):
    """An ephemeral node's ephemeralOwner is the creating session's id; persistent nodes have 0."""
    zk.create("/eph", ephemeral=True)
    zk.create("/per")
    assert zk.exists("/eph").ephemeralOwner == zk.client_id[0]
    assert zk.exists("/per").ephemeralOwner == 0


def test_ephemeral_cannot_have_children(zk):
    """Creating any child (plain or sequential) of an ephemeral fails with NoChildrenForEphemeralsError."""
    zk.create("/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eph/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eph/seq-", sequence=True)
    assert zk.exists("/eph").numChildren == 0


def test_sequential_names_count_child_creates(zk):
    """Sequential suffixes are %010d of the number of children ever created; deletes do not count."""
    zk.create("/q")
    assert zk.create("/q/job-", sequence=True) == "/q/job-0000000000"
    assert zk.create("/q/job-", sequence=True) == "/q/job-0000000001"
    zk.create("/q/plain")
    zk.delete("/q/plain")
    assert zk.exists("/q").cversion == 4  # the reported cversion counts creates *and* deletes
    assert zk.create("/q/job-", sequence=True, ephemeral=True) == "/q/job-0000000003"
    assert zk.create("/q/other", sequence=True) == "/q/other0000000004"
    assert zk.create("/q/", sequence=True) == "/q/0000000005"
    zk.set("/q", b"data changes do not count")
    zk.delete("/q/job-0000000000")
    zk.delete("/q/job-0000000001")
    assert zk.create("/q/job-", sequence=True) == "/q/job-0000000006"
    assert sorted(zk.get_children("/q")) == [
        "0000000005",
        "job-0000000003",
        "job-0000000006",
        "other0000000004",
    ]
    stat = zk.exists("/q")
    assert (stat.cversion, stat.numChildren) == (10, 4)  # 7 creates + 3 deletes


def test_cversion_is_twice_creates_minus_children(zk):
    """Reported cversion == 2 * (children ever created) - (current children), as ZooKeeper derives it."""
    zk.create("/p")
    for i in range(4):
        zk.create("/p/c%d" % i)
    for i in range(3):
        zk.delete("/p/c%d" % i)
    stat = zk.exists("/p")
    assert (stat.cversion, stat.numChildren) == (7, 1)
    assert zk.create("/p/s", sequence=True) == "/p/s0000000004"
    assert zk.exists("/p").cversion == 8


def test_sequential_counters_are_per_parent(zk):
    """Each parent has its own sequence counter."""
    zk.create("/a")
    zk.create("/b")
    assert zk.create("/a/n", sequence=True) == "/a/n0000000000"
    assert zk.create("/a/n", sequence=True) == "/a/n0000000001"
    assert zk.create("/b/n", sequence=True) == "/b/n0000000000"


def test_sequential_name_collision_raises_node_exists(zk):
    """If the generated sequential name already exists, the create fails with NodeExistsError."""
    zk.create("/q")
    zk.create("/q/x0000000001")  # cversion becomes 1
    with pytest.raises(NodeExistsError):
        zk.create("/q/x", sequence=True)
    assert zk.create("/q/y", sequence=True) == "/q/y0000000001"  # a failed create leaves cversion alone


def test_sequential_create_with_makepath(zk):
    """Sequential create with makepath creates the parents, then numbers from the new parent."""
    assert zk.create("/deep/er/item-", sequence=True, makepath=True) == "/deep/er/item-0000000000"


# --------------------------------------------------------------------------- bad arguments & special nodes


def test_nul_in_path_raises_bad_arguments(zk):
    """A path containing a NUL character is rejected by the server with BadArgumentsError."""
    with pytest.raises(BadArgumentsError):
        zk.create("/bad\u0000name")


def test_root_and_zookeeper_nodes_cannot_be_deleted(zk_factory):
    """Deleting / or /zookeeper fails with BadArgumentsError; creating them fails with NodeExistsError."""
    root = zk_factory(chroot=False)
    with pytest.raises(BadArgumentsError):
        root.delete("/")
    with pytest.raises(BadArgumentsError):
        root.delete("/zookeeper")
    with pytest.raises(NodeExistsError):
        root.create("/")
    with pytest.raises(NodeExistsError):
        root.create("/zookeeper")
    assert {"zookeeper", "compat"} <= set(root.get_children("/"))
    assert {"config", "quota"} <= set(root.get_children("/zookeeper"))


def test_system_nodes_shape(zk_factory):
    """/zookeeper/config is empty with aversion -1 (standalone), /zookeeper/quota exists, root has ctime 0."""
    root = zk_factory(chroot=False)
    data, stat = root.get("/zookeeper/config")
    assert data == b""
    assert (stat.czxid, stat.ctime, stat.version, stat.aversion, stat.ephemeralOwner) == (0, 0, 0, -1, 0)
    assert root.exists("/zookeeper/quota").czxid == 0
    zk_node = root.exists("/zookeeper")
    # Built-in children are not counted as creates, so cversion = 2*0 - 2.
    assert (zk_node.czxid, zk_node.numChildren, zk_node.cversion) == (0, 2, -2)
    root_stat = root.exists("/")
    assert (root_stat.czxid, root_stat.ctime, root_stat.version, root_stat.ephemeralOwner) == (0, 0, 0, 0)
    assert root.get("/")[0] == b""


# --------------------------------------------------------------------------- large data


def _packet_length(path: str, data: bytes) -> int:
    """Length of a Create request body as the server reads it (xid + type + record)."""
    return 8 + len(Create(path, data, OPEN_ACL_UNSAFE, 0).serialize())


def test_large_data_up_to_jute_maxbuffer(zk):
    """A request whose body is exactly 0xfffff bytes (jute.maxbuffer) is accepted and read back whole."""
    path = "/large"
    full = zk.chroot + path
    size = 1024 * 1024
    size -= _packet_length(full, b"x" * size) - MAX_PACKET
    data = bytes(i % 251 for i in range(size))
    assert _packet_length(full, data) == MAX_PACKET
    zk.create(path, data)
    got, stat = zk.get(path)
    assert got == data and stat.dataLength == size
    assert zk.set(path, data[::-1]).dataLength == size


def test_request_over_jute_maxbuffer_drops_connection_not_session(zk, events):
    """A request one byte over jute.maxbuffer drops the connection (ConnectionLoss); the session survives."""
    from kazoo.client import KazooState

    zk.create("/eph", ephemeral=True)
    session_id = zk.client_id[0]
    states = events()
    zk.add_listener(states)
    full = zk.chroot + "/huge"
    size = 1024 * 1024
    size -= _packet_length(full, b"x" * size) - (MAX_PACKET + 1)
    with pytest.raises(ConnectionLoss):
        zk.create("/huge", b"y" * size)
    states.wait_for(lambda items: KazooState.CONNECTED in items, what="reconnection")
    assert zk.client_id[0] == session_id
    assert zk.exists("/huge") is None
    assert zk.exists("/eph").ephemeralOwner == session_id
    assert KazooState.LOST not in states.items


def test_sync_answers_path(zk):
    """sync answers the (chroot-relative) path, for existing and missing nodes alike."""
    zk.create("/s")
    assert zk.sync("/s") == "/s"
    assert zk.sync("/missing") == "/missing"
