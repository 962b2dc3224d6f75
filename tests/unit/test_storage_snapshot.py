"""Snapshot files: ZooKeeper's exact bytes, round trips (plain, gzip, snappy), children order, damage."""

from __future__ import annotations

import gzip
import io
import struct

import pytest

from protocol.records import ACL, Id
from zkcompat.core.javahash import JavaHashSet
from zkcompat.core.tree import DataTree
from zkcompat.storage import snappy
from zkcompat.storage.digest import tree_digest
from zkcompat.storage.errors import CorruptSnapshot
from zkcompat.storage.snapshot import (
    ZxidDigest,
    iter_tree,
    java_hashmap_copy_order,
    looks_complete,
    read_snapshot,
    save_snapshot,
    snapshot_name,
    stream_mode,
    snapshot_bytes,
    unresolved_acl_paths,
    write_snapshot,
    write_tree_snapshot_tmp,
)

from .test_storage_kit import apply_all, open_sessions, persisted_view, record_workload, tree_view

# snapshot.0 as Apache ZooKeeper 3.8.0 writes it when it first starts on an empty data dir
ZK_SNAPSHOT_0 = bytes.fromhex(
    "5a4b534e00000002ffffffffffffffff00000000000000010000000000000001000000010000000100000005776f726c"
    "6400000006616e796f6e650000000000000000ffffffffffffffff000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000a2f7a6f6f6b"
    "656570657200000000ffffffffffffffff00000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000112f7a6f6f6b65657065722f636f6e66"
    "696700000000000000000000000100000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000ffffffff00000000000000000000000000000000000000102f7a6f6f6b65657065722f71756f74610000"
    "0000ffffffffffffffff0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000012f00000000b8a23b49000000012f0000000000000000"
    "0000000200000000000000000000000095b93d59000000012f"
)


def snap_bytes(tree, sessions=None, zxid=0, **kw) -> bytes:
    buf = io.BytesIO()
    write_snapshot(buf, tree, sessions or {}, zxid, **kw)
    return buf.getvalue()


def write(tmp_path, data: bytes, name="snapshot.10"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_fresh_tree_is_byte_for_byte_zookeepers_snapshot_0():
    """A fresh DataTree at zxid 0 serializes to exactly the snapshot.0 ZooKeeper writes at first start."""
    assert snap_bytes(DataTree(extended_types=True)) == ZK_SNAPSHOT_0


def test_zookeepers_snapshot_0_reads_back_as_a_fresh_tree(tmp_path):
    """ZooKeeper's snapshot.0 loads to the same nodes a fresh DataTree has, /zookeeper/config ACL included."""
    snap = read_snapshot(write(tmp_path, ZK_SNAPSHOT_0, "snapshot.0"))
    assert snap.zxid == 0 and snap.sessions == {} and snap.digest == ZxidDigest(0, 2, 0)
    assert tree_view(snap.tree) == tree_view(DataTree(extended_types=True))


def test_workload_tree_round_trips(tmp_path):
    """Every node, stat, ACL, data (null too) and the sessions survive a snapshot; digest matches the tree."""
    server, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    zxid = txns[-1][0].zxid
    p = save_snapshot(tmp_path, tree, sessions, zxid)
    assert p.name == "snapshot.%x" % zxid and looks_complete(p)
    snap = read_snapshot(p)
    assert persisted_view(snap.tree) == persisted_view(tree)
    assert snap.sessions == sessions == open_sessions(server)
    assert snap.zxid == zxid and snap.tree.last_processed_zxid == zxid
    assert snap.digest == ZxidDigest(zxid, 2, tree_digest(tree)) == ZxidDigest(zxid, 2, tree_digest(snap.tree))
    assert snap.tree.data_size == tree.data_size
    assert snap.tree.get("/null-data").data is None
    assert set(snap.tree.ephemerals) == {sid for sid, s in tree.ephemerals.items() if s}
    assert list(snap.tree.containers) == ["/box"] and sorted(snap.tree.ttls) == sorted(tree.ttls)


def test_a_snapshot_streamed_to_its_file_is_the_snapshot_in_memory(tmp_path):
    """The forked writer's way (nodes in chunks, big values written as they are, an unnamed file
    linked as ``snapshot.<zxid>.tmp`` at the end) gives the bytes of ``snapshot_bytes``."""
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    acl = [ACL(31, Id("world", "anyone"))]
    tree.create_node("/stream", None, acl, 0, -1, 1, 0, False)
    for i in range(3000):  # several chunks of nodes
        tree.create_node("/stream/n%d" % i, b"v%d" % i, acl, 0, -1, 2 + i, 0, False)
    tree.create_node("/stream-big", b"b" * (1 << 17), acl, 0, -1, 5000, 0, False)  # one write of its own
    zxid = 5000
    tmp = write_tree_snapshot_tmp(tmp_path / "snaps", tree, sessions, zxid)
    assert tmp.name == snapshot_name(zxid) + ".tmp"
    assert tmp.read_bytes() == snapshot_bytes(tree, sessions, zxid)
    assert [p.name for p in (tmp_path / "snaps").iterdir()] == [tmp.name]
    tmp.write_bytes(b"left by a writer that died")  # a stale file of that name is replaced
    assert write_tree_snapshot_tmp(tmp_path / "snaps", tree, sessions, zxid).read_bytes() == tmp.read_bytes()
    assert tmp.read_bytes() == snapshot_bytes(tree, sessions, zxid)


def _acl_cache_and_node_acls(data: bytes) -> tuple[dict, dict]:
    """A plain snapshot's ACL cache (number -> [(perms, scheme, id)]) and each node's ACL number."""
    def ustring(off):
        (n,) = struct.unpack_from(">i", data, off)
        return (None, off + 4) if n < 0 else (data[off + 4: off + 4 + n].decode(), off + 4 + n)

    (n,) = struct.unpack_from(">i", data, 16)
    off = 20 + 12 * n
    (n,) = struct.unpack_from(">i", data, off)
    off += 4
    cache = {}
    for _ in range(n):
        aid, count = struct.unpack_from(">qi", data, off)
        off += 12
        cache[aid] = []
        for _ in range(count):
            (perms,) = struct.unpack_from(">i", data, off)
            scheme, off = ustring(off + 4)
            ident, off = ustring(off)
            cache[aid].append((perms, scheme, ident))
    nodes = {}
    path, off = ustring(off)
    while path != "/":
        (n,) = struct.unpack_from(">i", data, off)
        off += 4 + max(n, 0)
        (nodes[path],) = struct.unpack_from(">q", data, off)
        off += 8 + 60  # the ACL number, then StatPersisted
        path, off = ustring(off)
    return cache, nodes


def test_acl_cache_numbers_lists_in_order_of_first_use():
    """The ACL cache numbers each list the nodes hold once (equal lists share it), in the order
    the lists were first used, as ReferenceCountedACLCache hands out its indexes. The nodes
    DataTree creates itself are written with -1 while their ACL is the open one."""
    tree = DataTree(extended_types=True)
    digest = [ACL(31, Id("digest", "u:x"))]
    open_acl = [ACL(31, Id("world", "anyone"))]
    read = [ACL(1, Id("world", "anyone"))]
    tree.create_node("/a", b"", list(digest), 0, -1, 1, 0, False)
    tree.create_node("/b", b"", list(open_acl), 0, -1, 2, 0, False)
    tree.create_node("/c", b"", list(read), 0, -1, 3, 0, False)
    tree.create_node("/d", b"", list(digest), 0, -1, 4, 0, False)  # an equal list: the same number
    tree.set_acl("/zookeeper", list(digest), -1)  # a system node that is no longer open: numbered
    cache, nodes = _acl_cache_and_node_acls(snap_bytes(tree))
    assert cache == {1: [(31, "world", "anyone")], 2: [(1, "world", "anyone")], 3: [(31, "digest", "u:x")]}
    assert nodes == {"": -1, "/zookeeper": 3, "/zookeeper/quota": -1, "/zookeeper/config": 2,
                     "/a": 3, "/b": 1, "/c": 2, "/d": 3}
    loaded = read_snapshot(io.BytesIO(snap_bytes(tree))).tree
    assert {p: loaded.get(p).acl for p in nodes if p} == {p: tree.get(p).acl for p in nodes if p}


def test_node_records_go_to_the_file_as_they_are_made():
    """The writer keeps no node records back: it writes them about 64 KiB at a time, so it never
    holds a copy of the snapshot (as big as the file) in its memory."""
    tree = DataTree(extended_types=True)
    acl = [ACL(31, Id("world", "anyone"))]
    tree.create_node("/s", None, acl, 0, -1, 1, 0, False)
    for i in range(3000):  # about 3.2 MiB of records
        tree.create_node("/s/n%d" % i, b"v" * 1024, acl, 0, -1, 2 + i, 0, False)

    class Sizes(io.BytesIO):
        sizes: list = []

        def write(self, b):
            self.sizes.append(len(b))
            return super().write(b)

    out = Sizes()
    write_snapshot(out, tree, {}, 3001)
    assert out.getvalue() == snapshot_bytes(tree, {}, 3001)
    assert sum(out.sizes) > 3 << 20 and max(out.sizes) < 512 << 10


@pytest.mark.parametrize("refuse", ["link", "unnamed files"])
def test_a_streamed_snapshot_without_unnamed_files_or_links(tmp_path, monkeypatch, refuse):
    """A file system that will not link an unnamed file gets a copy under the name; one without
    unnamed files gets the named file written directly; the bytes are the same either way."""
    import os

    from zkcompat.storage import snapshot as snapshot_module

    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)

    def refused(*args, **kwargs):
        raise OSError(95, "Operation not supported")

    if refuse == "link":
        monkeypatch.setattr(snapshot_module.os, "link", refused)
    else:
        real_open = os.open
        monkeypatch.setattr(snapshot_module.os, "open", lambda path, flags, *a: refused() if flags & os.O_TMPFILE
                            else real_open(path, flags, *a))
    tmp = write_tree_snapshot_tmp(tmp_path, tree, sessions, 77)
    assert tmp.read_bytes() == snapshot_bytes(tree, sessions, 77)
    assert [p.name for p in tmp_path.iterdir()] == [tmp.name]


def test_rewriting_a_loaded_snapshot_is_stable(tmp_path):
    """Loading then writing again gives the same bytes: the loaded children order is the file order's rebuild."""
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    first = snap_bytes(tree, sessions, 99)
    loaded = read_snapshot(io.BytesIO(first)).tree
    loaded.last_processed_zxid = tree.last_processed_zxid
    assert snap_bytes(loaded, sessions, 99) == first


def test_children_are_rebuilt_in_file_order_as_zookeeper_deserializes():
    """Each parent's children set is a new HashSet(8) filled in file order, whatever order the old set had."""
    _, txns, _ = record_workload()
    tree, _ = apply_all(txns)
    loaded = read_snapshot(io.BytesIO(snap_bytes(tree))).tree
    for path, node in tree.nodes.items():
        if path == "" or not node.child_names():
            continue
        rebuilt = JavaHashSet(8, node.child_names())  # file order is the old iteration order
        assert loaded.nodes[path].child_names() == rebuilt.ordered(), path
    # /app lost children and grew past 6: its rebuilt order is not its live order
    assert set(loaded.get("/app").child_names()) == set(tree.get("/app").child_names())


def test_nodes_are_written_depth_first_in_children_order():
    """iter_tree walks from the root "" depth first, children in getChildren order."""
    _, txns, _ = record_workload()
    tree, _ = apply_all(txns)
    paths = [p for p, _ in iter_tree(tree)]
    assert paths[0] == "" and len(paths) == len(tree.nodes) - 1
    for i, p in enumerate(paths[1:], 1):
        parent = p[: p.rfind("/")]
        assert parent in paths[:i]


def test_sessions_and_acl_cache_in_java_hashmap_order():
    """Session ids and ACL ids are written in the order Java's HashMap<Long,..> copy iterates them."""
    assert java_hashmap_copy_order([3, 1, 2]) == [1, 2, 3]
    big = [(1 << 56) + i for i in range(5)] + [-5, 7]
    order = java_hashmap_copy_order(big)
    assert sorted(order) == sorted(big) and len(order) == 7


def test_no_digest_section_when_digests_are_off(tmp_path):
    """digest=False ends the file after the first seal; it reads back with digest None (a pre-3.6 snapshot)."""
    tree = DataTree(extended_types=True)
    data = snap_bytes(tree, digest=False)
    assert data == ZK_SNAPSHOT_0[: len(data)] and len(data) == len(ZK_SNAPSHOT_0) - 20 - 13
    snap = read_snapshot(write(tmp_path, data, "snapshot.0"))
    assert snap.digest is None and looks_complete(tmp_path / "snapshot.0")


def test_fuzzy_snapshot_digest_names_a_later_zxid():
    """A snapshot named z but holding later txns carries the digest of its last applied zxid."""
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    snap = read_snapshot(io.BytesIO(snap_bytes(tree, sessions, 5)))
    assert snap.digest == ZxidDigest(tree.last_processed_zxid, 2, tree_digest(tree))
    given = ZxidDigest(77, 2, -3)
    assert read_snapshot(io.BytesIO(snap_bytes(tree, sessions, 5, digest=given))).digest == given


def test_old_hex_string_digest_reads():
    """A digest of version < 2 stores the value as a hex string (DataTree.ZxidDigest.deserialize)."""
    base = snap_bytes(DataTree(), digest=False)
    import zlib

    body = base + struct.pack(">qi", 9, 1) + struct.pack(">i", 4) + b"00ff"
    body += struct.pack(">q", zlib.adler32(body)) + struct.pack(">i", 1) + b"/"
    assert read_snapshot(io.BytesIO(body)).digest == ZxidDigest(9, 1, 255)


@pytest.mark.parametrize("compression", ["gz", "snappy"])
def test_compressed_snapshots_round_trip(tmp_path, compression):
    """save_snapshot(.., compression) writes snapshot.<zxid>.<ext>; it reads back the same as a plain one."""
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    p = save_snapshot(tmp_path, tree, sessions, 0x42, compression=compression)
    assert p.name == "snapshot.42." + compression and stream_mode(p.name) == compression
    assert looks_complete(p)
    snap = read_snapshot(p)
    assert persisted_view(snap.tree) == persisted_view(tree) and snap.sessions == sessions
    plain = snap_bytes(tree, sessions, 0x42)
    if compression == "gz":
        assert gzip.decompress(p.read_bytes()) == plain
    else:
        assert snappy.SnappyJavaReader(io.BytesIO(p.read_bytes())).read() == plain


def test_snappy_block_decoding_with_copies():
    """Raw snappy blocks with literals and 1/2/4-byte-offset copies (overlapping too) decode."""
    assert snappy.decompress_block(bytes([5, 4 << 2]) + b"abcde") == b"abcde"
    # "abcd" then a copy of 8 at offset 4 (tag 1: len 4 + 4) -> abcdabcdabcd
    assert snappy.decompress_block(bytes([12, 3 << 2]) + b"abcd" + bytes([(4 << 2) | 1, 4])) == b"abcd" * 3
    # tag 2 copy: length 3, offset 2 (overlapping) -> "ab" + "aba"
    assert snappy.decompress_block(bytes([5, 1 << 2]) + b"ab" + bytes([(2 << 2) | 2, 2, 0])) == b"ababa"
    # tag 3 copy: length 2, offset 1
    assert snappy.decompress_block(bytes([3, 0]) + b"z" + bytes([(1 << 2) | 3, 1, 0, 0, 0])) == b"zzz"
    big = bytes(range(256)) * 300
    assert snappy.decompress_block(snappy.compress_block(big)) == big
    with pytest.raises(snappy.SnappyError):
        snappy.decompress_block(bytes([9, 4 << 2]) + b"abcde")


def test_snapshot_names_and_modes():
    """snapshot.<hex>[.gz|.snappy]; any other suffix is a plain (checked) stream, as SnapStream decides."""
    assert snapshot_name(0x1A) == "snapshot.1a" and snapshot_name(1, "gz") == "snapshot.1.gz"
    assert stream_mode("snapshot.1a.snappy") == "snappy" and stream_mode("snapshot.1a.tmp") == ""


# --- damage -----------------------------------------------------------------------------------


def test_wrong_magic_is_corrupt(tmp_path):
    """A file that is not ZKSN is a CorruptSnapshot."""
    data = bytearray(ZK_SNAPSHOT_0)
    data[:4] = b"ZKLG"
    with pytest.raises(CorruptSnapshot) as e:
        read_snapshot(write(tmp_path, bytes(data)))
    assert "magic" in e.value.reason


def test_bad_checksum_is_corrupt(tmp_path):
    """A flipped byte inside a node makes the seal fail: CorruptSnapshot ("CRC corruption")."""
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    data = bytearray(snap_bytes(tree, sessions, 7))
    i = data.index(b"set in multi")
    data[i] ^= 0x20
    with pytest.raises(CorruptSnapshot) as e:
        read_snapshot(write(tmp_path, bytes(data)))
    assert "CRC" in e.value.reason


def test_every_truncation_is_detected(tmp_path):
    """A snapshot cut anywhere fails the cheap check or the read -- never loads a partial tree.

    The one cut that loads is right after the first seal: that is a whole snapshot without digest section.
    """
    _, txns, _ = record_workload()
    tree, sessions = apply_all(txns)
    data = snap_bytes(tree, sessions, 7)
    step = max(1, len(data) // 300)
    for cut in list(range(0, len(data), step)) + list(range(len(data) - 40, len(data))):
        p = write(tmp_path, data[:cut])
        if not looks_complete(p):
            continue
        if cut == len(data) - 20 - 13:  # right after the first seal: a valid snapshot without digest section
            snap = read_snapshot(p)
            assert snap.digest is None and persisted_view(snap.tree) == persisted_view(tree)
            continue
        with pytest.raises(CorruptSnapshot):
            read_snapshot(p)


def test_corrupt_gzip_is_corrupt(tmp_path):
    """Broken compression is a CorruptSnapshot too."""
    p = tmp_path / "snapshot.5.gz"
    p.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(CorruptSnapshot):
        read_snapshot(p)
    p = tmp_path / "snapshot.6.snappy"
    p.write_bytes(snappy.HEADER + struct.pack(">i", 100) + b"short")
    with pytest.raises(CorruptSnapshot):
        read_snapshot(p)


def test_node_without_parent_is_corrupt():
    """A node whose parent precedes it nowhere in the file: "invalid DataTree"."""
    tree = DataTree()
    tree.create_node("/a", b"", [ACL(31, Id("world", "anyone"))], 0, -1, 1, 1, False)
    data = snap_bytes(tree).replace(b"\x00\x00\x00\x02/a", b"\x00\x00\x00\x02/b")
    data = data.replace(b"\x00\x00\x00\x02/b", b"\x00\x00\x00\x04/x/b", 1)
    with pytest.raises(CorruptSnapshot):
        read_snapshot(io.BytesIO(data))


def test_acl_missing_from_the_cache_gets_a_placeholder_that_grants_nothing():
    """A node whose ACL id the (fuzzy) snapshot lacks loads with a perms-0 placeholder, listed as unresolved."""
    tree = DataTree()
    tree.create_node("/a", b"", [ACL(1, Id("digest", "u:x"))], 0, -1, 1, 1, False)
    data = bytearray(snap_bytes(tree, digest=False))
    i = data.index(b"\x00\x00\x00\x02/a") + 6 + 4  # path, then the data length (0): the acl long follows
    assert struct.unpack_from(">q", data, i)[0] > 0  # its id in the ACL cache
    struct.pack_into(">q", data, i, 9)
    import zlib

    body = bytes(data[:-13])
    body += struct.pack(">q", zlib.adler32(body)) + struct.pack(">i", 1) + b"/"
    snap = read_snapshot(io.BytesIO(body))
    assert snap.tree.get("/a").acl[0].perms == 0
    assert unresolved_acl_paths(snap.tree) == ["/a"]


def test_loaded_tree_keeps_a_correct_running_digest():
    """The loaded tree's running digest equals a full recomputation, and stays so as txns apply on top."""
    _, txns, _ = record_workload()
    half = len(txns) // 2
    tree, sessions = apply_all(txns[:half])
    loaded = read_snapshot(io.BytesIO(snap_bytes(tree, sessions, txns[half - 1][0].zxid))).tree
    assert loaded.signed_digest == tree_digest(loaded) == tree_digest(tree)
    apply_all(txns[half:], loaded)
    full, _ = apply_all(txns)
    assert loaded.signed_digest == tree_digest(loaded) == tree_digest(full)


def test_quota_nodes_survive_and_the_quota_trie_is_rebuilt():
    """Quota nodes under /zookeeper/quota reload, and the tree's quota bookkeeping is rebuilt (setupQuota)."""
    from protocol.codes import OpCode
    from protocol.records import CreateTxn, TxnHeader

    world = [ACL(31, Id("world", "anyone"))]
    txns = []
    for z, (path, data) in enumerate([("/app", b""), ("/app/a", b"12345"), ("/zookeeper/quota/app", b""),
                                      ("/zookeeper/quota/app/zookeeper_limits", b"count=10,bytes=-1"),
                                      ("/zookeeper/quota/app/zookeeper_stats", b"count=0,bytes=0")], 1):
        txns.append((TxnHeader(0, z, z, 1000 + z, OpCode.CREATE), CreateTxn(path, data, world, False, -1)))
    tree, _ = apply_all(txns)
    loaded = read_snapshot(io.BytesIO(snap_bytes(tree, {}, 5))).tree
    assert persisted_view(loaded) == persisted_view(tree)
    assert getattr(loaded, "quota_paths", None) == getattr(tree, "quota_paths", None)
