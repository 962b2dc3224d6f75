"""ZooKeeper 3.8's snapshot files (``version-2/snapshot.<zxid hex>[.gz|.snappy]``).

Format (FileSnap, SerializeUtils, DataTree, ReferenceCountedACLCache, SnapStream)
-------------------------------------------------------------------------------
::

    FileHeader        magic:int "ZKSN" (0x5A4B534E)  version:int 2  dbid:long -1
    sessions          count:int  (id:long timeout:int)*count
    ACL cache         count:int  (id:long  vector<ACL>)*count
    nodes             (path:ustring  data:buffer  acl:long  StatPersisted)*  "/":ustring
    seal              adler32:long  "/":ustring
    digest (3.6+)     zxid:long  version:int  digest:long     (version < 2: digest is a hex ustring)
    seal              adler32:long  "/":ustring

- The seal's checksum is the Adler32 of every (uncompressed) byte before it,
  so the second seal covers the first one too.  A snapshot without the digest
  section (digests disabled, or before 3.6) simply ends after the first seal.
- Node ``acl`` is a key of the ACL cache; -1 means OPEN_ACL_UNSAFE (the root,
  /zookeeper and /zookeeper/quota carry it).  The StatPersisted cversion is
  ZooKeeper's stored one (what ``Node.cversion`` keeps).
- Nodes come depth first from the root, whose path is "" (not "/"); children
  in the iteration order of their parent's HashSet.  Loading adds every node
  to its parent's (new, capacity 8) HashSet in file order, so getChildren
  after a restart answers in the order of the rebuilt set: ``read_snapshot``
  builds the same ``JavaHashSet``s.
- A valid-looking snapshot (``looks_complete``) ends with the 5 bytes
  ``00 00 00 01 '/'``; ZooKeeper checks that before reading one.
- The snapshot's zxid is in its name only: the last zxid applied when the
  snapshot *started*.  Snapshots are fuzzy (the tree keeps changing while it
  is written), so loaders replay the log from zxid+1 on top; the digest
  section names the zxid at which the tree digest will match again.
- ``.gz`` snapshots are the same bytes gzipped; ``.snappy`` ones use
  snappy-java's stream framing (``snappy.py``).  The checksums are over the
  uncompressed bytes.

``write_snapshot`` writes sessions and the ACL cache in the iteration order of
the Java HashMaps ZooKeeper copies them into, and gives ACL ids in tree
order, so a fresh tree's snapshot is byte for byte ZooKeeper's snapshot.0.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple

from protocol.jute import java_utf8, java_utf8_decode
from protocol.records import ACL, FileHeader, Id

from . import snappy
from .digest import DIGEST_VERSION
from .errors import CorruptSnapshot, UnsupportedSnapshot

SNAP_MAGIC = int.from_bytes(b"ZKSN", "big")
VERSION = 2
DBID = -1
SNAPSHOT_PREFIX = "snapshot"
OPEN_UNSAFE_ACL_ID = -1
SEAL_TAIL = b"\x00\x00\x00\x01/"
MAX_FIELD = 1 << 30  # a sanity bound on one buffer/string, far above jute.maxbuffer
UNRESOLVED_SCHEME = "zkcompat-unresolved-acl"  # see read_snapshot: no one matches it; perms 0
_SYSTEM_OPEN_PATHS = ("", "/zookeeper", "/zookeeper/quota")  # DataTree creates them with acl -1
_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_IQ = struct.Struct(">qi")
_STATP = struct.Struct(">qqqqiiiqq")
_NODE_TAIL = struct.Struct(">qqqqqiiiqq")  # a node's ACL number, then its StatPersisted
_U64 = (1 << 64) - 1


class ZxidDigest(NamedTuple):
    zxid: int
    version: int
    digest: int


class SnapshotData(NamedTuple):
    tree: object  # zkcompat.core.tree.DataTree
    sessions: dict  # session id -> timeout (ms)
    zxid: int | None  # from the file name (None when read from a nameless file object)
    digest: ZxidDigest | None  # None when the snapshot has no digest section


def snapshot_name(zxid: int, compression: str | None = None) -> str:
    """Util.makeSnapshotName: ``snapshot.<hex zxid>`` plus ``.gz`` / ``.snappy``."""
    name = "%s.%x" % (SNAPSHOT_PREFIX, zxid & _U64)
    return name + ("." + compression if compression else "")


def stream_mode(name: str) -> str:
    """SnapStream.getStreamMode: 'gz', 'snappy' or '' (plain, checked) from the last dot part."""
    parts = name.split(".")
    if len(parts) > 1 and parts[-1].lower() in ("gz", "snappy"):
        return parts[-1].lower()
    return ""


def looks_complete(path) -> bool:
    """SnapStream.isValidSnapshot: the cheap check ZooKeeper makes before reading a snapshot."""
    path = Path(path)
    mode = stream_mode(path.name)
    try:
        with open(path, "rb") as f:
            if mode == "gz":
                return f.read(2) == b"\x1f\x8b"
            if mode == "snappy":
                return f.read(len(snappy.MAGIC)) == snappy.MAGIC
            size = os.fstat(f.fileno()).st_size
            if size < 10:
                return False
            f.seek(size - 5)
            return f.read(5) == SEAL_TAIL
    except OSError:
        return False


# --- Java HashMap<Long, ?> iteration order -------------------------------------------------


def _java_long_hash(v: int) -> int:
    v &= _U64
    return (v ^ (v >> 32)) & 0xFFFFFFFF


def _table_size_for(n: int) -> int:
    cap = 1
    while cap < n:
        cap <<= 1
    return cap


def java_hashmap_copy_order(keys) -> list[int]:
    """The iteration order of ``new HashMap<>(m)`` over Long keys (ties: ascending key)."""
    keys = sorted(keys)
    if not keys:
        return []
    cap = _table_size_for(int(len(keys) / 0.75 + 1.0))
    mask = cap - 1

    def bucket(k):
        h = _java_long_hash(k)
        return (h ^ (h >> 16)) & mask

    return sorted(keys, key=bucket)  # sorted() is stable: ties keep ascending order


# --- writing ---------------------------------------------------------------------------------


class _CheckedWriter:
    def __init__(self, fobj: BinaryIO):
        self.fobj = fobj
        self.adler = 1
        self.buf: list[bytes] = []
        self.pending = 0

    def write(self, b: bytes) -> None:
        self.adler = zlib.adler32(b, self.adler)
        if len(b) >= 1 << 16:  # big enough on its own: written as it is, not copied into a join
            self.flush()
            self.fobj.write(b)
            return
        self.buf.append(b)
        self.pending += len(b)
        if self.pending >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.fobj.write(b"".join(self.buf))
            self.buf = []
            self.pending = 0

    def seal(self) -> None:
        """SnapStream.sealStream: the checksum so far, then "/"."""
        self.write(_Q.pack(self.adler) + _ustring("/"))


def _ustring(s: str | None) -> bytes:
    if s is None:
        return b"\xff\xff\xff\xff"
    b = java_utf8(s)
    return _I.pack(len(b)) + b


def _acl_key(acl) -> tuple:
    return tuple((a.perms, a.id.scheme, a.id.id) for a in acl) if acl is not None else None


def _number_acls(tree) -> dict[int, tuple[list, int, bool]]:
    """id() of each ACL list the nodes hold -> (the list, its number in the snapshot's ACL cache,
    whether it is the open ACL).

    The numbers follow the tree's interning order (the order the lists were first used, as
    ReferenceCountedACLCache hands out its indexes); equal lists share one number. The open ACL
    of the nodes DataTree creates itself ("", /zookeeper, /zookeeper/quota) is written as -1, as
    ZooKeeper writes it, so it has a number only if some other node holds it too; a list that is
    not numbered is written as -1.
    """
    from zkcompat.core.auth import OPEN_ACL_UNSAFE

    open_key = _acl_key(OPEN_ACL_UNSAFE)
    system = frozenset(_SYSTEM_OPEN_PATHS + ("/",))  # "/" is the tree's second key for its root
    held: dict[int, list] = {}  # id -> list, in node order
    for path, node in tree.nodes.items():
        acl = node.acl
        if acl is None or id(acl) in held or (path in system and _acl_key(acl) == open_key):
            continue
        held[id(acl)] = acl
    ordered = [acl for acl in tree.interned_acls() if id(acl) in held]
    seen = {id(acl) for acl in ordered}
    ordered += [acl for i, acl in held.items() if i not in seen]  # lists the tree did not intern
    ids: dict[tuple, int] = {}
    number: dict[int, tuple[list, int, bool]] = {}
    for acl in ordered:
        key = _acl_key(acl)
        number[id(acl)] = (acl, ids.setdefault(key, len(ids) + 1), key == open_key)
    return number


def iter_tree(tree):
    """(path, node) depth first from the root "" in children HashSet order: DataTree.serializeNode."""
    root = tree.nodes.get("")
    if root is None:
        return
    yield "", root
    nodes = tree.nodes
    stack = [("", iter(root.children.ordered()))] if root.children else []
    while stack:
        prefix, it = stack[-1]
        for name in it:
            path = prefix + "/" + name
            node = nodes.get(path)
            if node is None:
                continue
            yield path, node
            if node.children:  # its subtree first; a leaf goes on with its siblings
                stack.append((path, iter(node.children.ordered())))
                break
        else:
            stack.pop()


def write_snapshot(fobj: BinaryIO, tree, sessions: dict, zxid: int, *,
                   digest: bool | ZxidDigest | None = True) -> None:
    """Write ``tree`` and ``sessions`` as a (plain) snapshot of ``zxid`` to a binary file object.

    ``zxid`` is the snapshot's (it goes in the file name, see ``save_snapshot``).
    ``digest``: True writes ZooKeeper's ``lastProcessedZxidDigest``: the tree
    digest at the tree's last applied zxid (``max(tree.last_processed_zxid,
    zxid)``; later than ``zxid`` in a fuzzy snapshot), or the empty digest
    (zxid 0) when no txn was applied yet; a ``ZxidDigest`` is written as
    given; False/None leaves the section out (digests disabled).
    """
    from zkcompat.core.auth import OPEN_ACL_UNSAFE

    w = _CheckedWriter(fobj)
    w.write(FileHeader(SNAP_MAGIC, VERSION, DBID).to_bytes())
    w.write(_I.pack(len(sessions)))
    for sid in java_hashmap_copy_order(sessions):
        w.write(_IQ.pack(sid, sessions[sid]))
    # the ACL cache comes before the nodes, so it is numbered first, from the ACL lists the nodes
    # hold; the nodes' records then go to the file as they are made, and none is kept (a writer
    # holding them all until the end doubled its memory: the records are as big as the file)
    number = _number_acls(tree)
    acls = {aid: acl for acl, aid, _ in number.values()}
    w.write(_I.pack(len(acls)))
    for aid in java_hashmap_copy_order(acls):
        acl = acls[aid]
        w.write(_Q.pack(aid) + _I.pack(len(acl)) + b"".join(ACL.encode(a) for a in acl))
    parts: list[bytes] = []
    append = parts.append
    pack_i, pack_tail = _I.pack, _NODE_TAIL.pack
    for path, node in iter_tree(tree):
        got = number.get(id(node.acl))
        if got is None:  # no list, or a system node's open one
            aid = OPEN_UNSAFE_ACL_ID
        else:
            _, aid, is_open = got
            if is_open and path in _SYSTEM_OPEN_PATHS:
                aid = OPEN_UNSAFE_ACL_ID
        p = path.encode("ascii") if path.isascii() else java_utf8(path)
        append(pack_i(len(p)))
        append(p)
        data = node.data
        if data is None:
            append(b"\xff\xff\xff\xff")
        else:
            append(pack_i(len(data)))
            append(data)
        append(pack_tail(aid, node.czxid, node.mzxid, node.ctime, node.mtime, node.version, node.cversion,
                         node.aversion, node.ephemeral_owner, node.pzxid))
        if len(parts) >= 250:  # about 64 KiB of 1 KiB values: one write, one buffer reused
            w.write(b"".join(parts))
            parts.clear()
    w.write(b"".join(parts))
    w.write(_ustring("/"))
    w.seal()
    if digest is not False and digest is not None:
        if digest is True:
            at = max(tree.last_processed_zxid, zxid)
            zd = ZxidDigest(at, DIGEST_VERSION, tree.signed_digest) if at > 0 else ZxidDigest(0, DIGEST_VERSION, 0)
        else:
            zd = ZxidDigest(*digest)
        w.write(_Q.pack(zd.zxid) + _I.pack(zd.version) + _Q.pack(zd.digest))
        w.seal()
    w.flush()


def snapshot_bytes(tree, sessions: dict, zxid: int, *, digest: bool | ZxidDigest | None = True) -> bytes:
    """A plain snapshot of ``tree`` as bytes: an image of the tree at this moment."""
    import io

    buf = io.BytesIO()
    write_snapshot(buf, tree, sessions, zxid, digest=digest)
    return buf.getvalue()


_SEAL_SIZE = 8 + 4 + 1  # the checksum long and the ustring "/"


def snapshot_body(tree, sessions: dict) -> bytes:
    """What a leader streams after SNAP: the snapshot without its FileHeader, seals and digest
    (SerializeUtils.serializeSnapshot)."""
    data = snapshot_bytes(tree, sessions, 0, digest=False)
    return data[16:-_SEAL_SIZE]


def read_snapshot_body(body: bytes, *, extended_types: bool = True) -> SnapshotData:
    """The tree and sessions of a SNAP body (the inverse of ``snapshot_body``)."""
    import io

    head = FileHeader(SNAP_MAGIC, VERSION, DBID).to_bytes()
    seal = _Q.pack(zlib.adler32(body, zlib.adler32(head))) + _ustring("/")
    return read_snapshot(io.BytesIO(head + body + seal), extended_types=extended_types)


def save_snapshot_bytes(snap_dir, zxid: int, data: bytes, *, fsync: bool = True) -> Path:
    """Write an already serialised plain snapshot as ``snap_dir/snapshot.<zxid>``, atomically."""
    return publish_snapshot(write_snapshot_tmp(snap_dir, zxid, data), fsync=fsync)


def write_snapshot_tmp(snap_dir, zxid: int, data: bytes) -> Path:
    """The first half of ``save_snapshot_bytes``: ``snapshot.<zxid>.tmp`` written, not yet synced."""
    tmp = _tmp_path(snap_dir, zxid)
    with open(tmp, "wb") as raw:
        raw.write(data)
    return tmp


def write_tree_snapshot_tmp(snap_dir, tree, sessions: dict, zxid: int) -> Path:
    """``write_snapshot_tmp`` straight from the tree: the file is written as it is serialised,
    without the whole snapshot ever in memory as one bytes object (nor its copy in a BytesIO).

    Where the file system can, the file has no name while it is written (O_TMPFILE) and gets
    ``snapshot.<zxid>.tmp`` only once complete: a writer killed half way leaves nothing behind.
    """
    tmp = _tmp_path(snap_dir, zxid)
    try:
        if not os.path.isdir("/proc/self/fd"):
            raise OSError("no /proc to link an unnamed file through")
        fd = os.open(tmp.parent, os.O_TMPFILE | os.O_RDWR, 0o666)
    except (AttributeError, OSError):  # not Linux, or a file system without unnamed files
        with open(tmp, "wb") as raw:
            write_snapshot(raw, tree, sessions, zxid)
        return tmp
    with open(fd, "w+b") as raw:
        write_snapshot(raw, tree, sessions, zxid)
        if tmp.exists():
            tmp.unlink()  # left by a writer before a crash
        try:
            _link_open_file(fd, tmp)
        except OSError:  # the file system would not link it: copy it to the name instead
            raw.seek(0)
            with open(tmp, "wb") as named:
                shutil.copyfileobj(raw, named, 1 << 20)
    return tmp


def _link_open_file(fd: int, path: Path) -> None:
    """Give an O_TMPFILE file a name: linkat(AT_SYMLINK_FOLLOW) of its /proc/self/fd link (os.link
    makes that call only when given a directory fd; plain link() would link the /proc entry)."""
    proc_fd = os.open("/proc/self/fd", os.O_RDONLY)
    try:
        os.link(str(fd), path, src_dir_fd=proc_fd, follow_symlinks=True)
    finally:
        os.close(proc_fd)


def _tmp_path(snap_dir, zxid: int) -> Path:
    snap_dir = Path(snap_dir)
    snap_dir.mkdir(parents=True, exist_ok=True)
    return snap_dir / (snapshot_name(zxid) + ".tmp")


def publish_snapshot(tmp: Path, *, fsync: bool = True) -> Path:
    """The second half: sync ``snapshot.<zxid>.tmp`` (whoever wrote it), rename it into place, sync
    the directory. Only a synced file ever has a snapshot's name."""
    path = tmp.with_name(tmp.name[: -len(".tmp")])
    if fsync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(tmp.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def save_snapshot(snap_dir, tree, sessions: dict, zxid: int, *, compression: str | None = None,
                  digest: bool | ZxidDigest | None = True, fsync: bool = True) -> Path:
    """Write ``snap_dir/snapshot.<zxid>`` atomically (a .tmp file renamed, as AtomicFileOutputStream)."""
    snap_dir = Path(snap_dir)
    snap_dir.mkdir(parents=True, exist_ok=True)
    path = snap_dir / snapshot_name(zxid, compression)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw:
        if compression == "gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                write_snapshot(gz, tree, sessions, zxid, digest=digest)
        elif compression == "snappy":
            out = snappy.SnappyJavaWriter(raw)
            write_snapshot(out, tree, sessions, zxid, digest=digest)
            out.close()
        elif compression:
            raise ValueError("unknown snapshot compression %r" % compression)
        else:
            write_snapshot(raw, tree, sessions, zxid, digest=digest)
        raw.flush()
        if fsync:
            os.fsync(raw.fileno())
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(snap_dir)
    return path


# --- reading ---------------------------------------------------------------------------------


class _EOF(Exception):
    pass


class _CheckedReader:
    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.adler = 1
        self.offset = 0

    def read(self, n: int) -> bytes:
        b = self.raw.read(n)
        if len(b) < n:
            raise _EOF()
        self.adler = zlib.adler32(b, self.adler)
        self.offset += n
        return b

    def int(self) -> int:
        return _I.unpack(self.read(4))[0]

    def long(self) -> int:
        return _Q.unpack(self.read(8))[0]

    def buffer(self) -> bytes | None:
        n = self.int()
        if n == -1:
            return None
        if n < 0 or n > MAX_FIELD:
            raise ValueError("unreasonable length %d" % n)
        return self.read(n)

    def ustring(self) -> str | None:
        b = self.buffer()
        if b is None:
            return None
        try:
            return str(b, "utf-8")
        except UnicodeDecodeError:
            return java_utf8_decode(b)


def open_snapshot_stream(path) -> BinaryIO:
    """The uncompressed byte stream of a snapshot file, by its name as SnapStream.getInputStream."""
    path = Path(path)
    mode = stream_mode(path.name)
    raw = open(path, "rb")
    if mode == "gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if mode == "snappy":
        return snappy.SnappyJavaReader(raw)
    return io.BufferedReader(raw, 1 << 16)


def read_snapshot(source, *, extended_types: bool = True) -> SnapshotData:
    """Load a snapshot (a path, or an uncompressed binary file object) into a new ``DataTree``.

    Raises ``CorruptSnapshot`` (or ``UnsupportedSnapshot``) when it cannot be
    used.  A node whose ACL id is missing from the ACL cache (a fuzzy snapshot
    can have one; replaying its create txn sets its ACL, as in ZooKeeper) gets
    a placeholder ACL that grants nothing: see ``unresolved_acl_paths``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        zxid = snapshot_zxid(path.name)
        try:
            stream = open_snapshot_stream(path)
        except OSError as e:
            raise CorruptSnapshot(path, None, "cannot open: %s" % e)
        with stream:
            return _read(stream, path, zxid, extended_types)
    return _read(source, getattr(source, "name", None), None, extended_types)


def snapshot_zxid(name: str) -> int:
    from .txnlog import zxid_from_name

    return zxid_from_name(name, SNAPSHOT_PREFIX)


def _read(stream, path, zxid, extended_types) -> SnapshotData:
    r = _CheckedReader(stream)
    try:
        return _read_checked(r, path, zxid, extended_types)
    except _EOF:
        raise CorruptSnapshot(path, r.offset, "truncated: the file ends in the middle of the snapshot")
    except UnsupportedSnapshot:
        raise
    except CorruptSnapshot:
        raise
    except (ValueError, struct.error, OSError, EOFError, zlib.error, gzip.BadGzipFile, snappy.SnappyError) as e:
        raise CorruptSnapshot(path, r.offset, str(e) or type(e).__name__)


def _read_checked(r: _CheckedReader, path, zxid, extended_types) -> SnapshotData:
    from zkcompat.core.auth import OPEN_ACL_UNSAFE
    from zkcompat.core.javahash import JavaHashSet
    from zkcompat.core.tree import EPHEMERAL_CONTAINER, EPHEMERAL_TTL, DataTree, Node, ephemeral_type

    header = FileHeader.from_bytes(r.read(16))
    if header.magic != SNAP_MAGIC:
        raise CorruptSnapshot(path, 0, "mismatching magic header 0x%08x (expected 'ZKSN')"
                              % (header.magic & 0xFFFFFFFF))
    sessions: dict[int, int] = {}
    count = r.int()
    for _ in range(max(count, 0)):
        sid = r.long()
        sessions[sid] = r.int()

    tree = DataTree(extended_types=extended_types)
    acl_by_id: dict[int, list] = {}
    count = r.int()
    for _ in range(max(count, 0)):
        aid = r.long()
        n = r.int()
        if n == -1:
            raise CorruptSnapshot(path, r.offset, "ACL cache entry %d has no ACL vector" % aid)
        acl = []
        for _ in range(max(n, 0)):
            perms = r.int()
            acl.append(ACL(perms, Id(r.ustring(), r.ustring())))
        acl_by_id[aid] = tree.intern_acl(acl)
    open_acl = tree.intern_acl(OPEN_ACL_UNSAFE)

    nodes: dict = {}
    ephemerals: dict = {}
    containers: dict = {}
    ttls: dict = {}
    root = None
    path_s = r.ustring()
    while path_s != "/":
        at = r.offset
        if path_s is None:
            raise CorruptSnapshot(path, at, "null node path")
        data = r.buffer()
        aid = r.long()
        czxid, mzxid, ctime, mtime, version, cversion, aversion, owner, pzxid = _STATP.unpack(r.read(_STATP.size))
        if aid == OPEN_UNSAFE_ACL_ID:
            acl = open_acl
        else:
            acl = acl_by_id.get(aid)
            if acl is None:
                acl = [ACL(0, Id(UNRESOLVED_SCHEME, str(aid)))]
        node = Node(data, acl, czxid, mzxid, ctime, mtime, owner, pzxid)
        node.version = version
        node.cversion = cversion
        node.aversion = aversion
        nodes[path_s] = node
        cut = path_s.rfind("/")
        if cut == -1:
            if path_s != "":
                raise CorruptSnapshot(path, at, "node path %r does not start with '/'" % path_s)
            root = node
        else:
            parent = nodes.get(path_s[:cut])
            if parent is None:
                raise CorruptSnapshot(path, at, "invalid DataTree: no parent %r of %r" % (path_s[:cut], path_s))
            if parent.children is None:
                parent.children = JavaHashSet(8)
            parent.children.add(path_s[cut + 1 :])
            if owner:
                try:
                    kind = ephemeral_type(owner, extended_types)
                except ValueError as e:
                    raise CorruptSnapshot(path, at, "%s: %s" % (path_s, e))
                if kind == EPHEMERAL_CONTAINER:
                    containers[path_s] = None
                elif kind == EPHEMERAL_TTL:
                    ttls[path_s] = None
                else:
                    eph = ephemerals.get(owner)
                    if eph is None:
                        eph = ephemerals[owner] = JavaHashSet(16)
                    eph.add(path_s)
        path_s = r.ustring()
    if root is None:
        raise CorruptSnapshot(path, r.offset, "the snapshot has no root node")
    _check_seal(r, path)

    digest = None
    try:
        dzxid = r.long()
        dver = r.int()
        if dver < 2:
            hexs = r.ustring()
            dval = int(hexs, 16) if hexs is not None else 0
        else:
            dval = r.long()
        digest = ZxidDigest(dzxid, dver, dval)
    except _EOF:
        digest = None  # an older snapshot: no digest section (ZooKeeper reads it the same way)
    if digest is not None:
        _check_seal(r, path)
    if r.raw.read(1):
        raise CorruptSnapshot(path, r.offset, "unexpected bytes after the end of the snapshot")

    nodes["/"] = root
    tree.nodes = nodes
    tree.ephemerals = ephemerals
    tree.containers = containers
    tree.ttls = ttls
    tree.rebuild_derived_state()
    if zxid is not None:
        tree.last_processed_zxid = zxid
    return SnapshotData(tree, sessions, zxid, digest)


def _check_seal(r: _CheckedReader, path) -> None:
    """SnapStream.checkSealIntegrity."""
    expected = r.adler
    at = r.offset
    val = r.long()
    r.ustring()  # the "/" after it
    if val != expected:
        raise CorruptSnapshot(path, at, "CRC corruption (stored 0x%x, computed 0x%x)" % (val & _U64, expected))


def unresolved_acl_paths(tree) -> list[str]:
    """Paths whose ACL id was not in the snapshot's ACL cache and that no replayed txn fixed."""
    return sorted(
        p for p, n in tree.nodes.items()
        if p != "/" and n.acl and len(n.acl) == 1 and n.acl[0].id.scheme == UNRESOLVED_SCHEME
    )
