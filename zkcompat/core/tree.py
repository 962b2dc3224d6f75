"""The DataTree: znodes, their stats, ephemerals, and txn application.

Theory of operation
-------------------
``DataTree.apply(header, txn)`` is a pure function of (tree, txn): it changes
the tree exactly as org.apache.zookeeper.server.DataTree.processTxn does, takes
time only from the txn header, fires watches, and returns an ``ApplyResult``.
It never checks permissions or versions: that was done when the txn was
prepared (zkcompat.core.prep), so replaying a log gives the same tree.

Stat rules that clients can see (DataNode.copyStat):
- the stored ``cversion`` counts child creations; the client sees
  ``cversion * 2 - numChildren``, i.e. one step per creation and per deletion;
  sequential names use the stored value;
- ``ephemeralOwner`` is shown only for true ephemerals: containers
  (Long.MIN_VALUE) and TTL nodes (0xff00... | ttl) show 0;
- ``pzxid`` moves on child creation and deletion, never backwards.

The root is reachable as "/" and as "" (ZooKeeper keeps both keys); /zookeeper,
/zookeeper/quota and /zookeeper/config exist with zeroed stats, and
/zookeeper/config carries READ_ACL_UNSAFE with aversion -1 (it is set through
setACL(path, acl, -1) at start).

Children are ``JavaHashSet``s so that getChildren answers in the order Java's
HashSet iterates, byte for byte like ZooKeeper.
"""

from __future__ import annotations

import struct
import zlib
from typing import Callable

from protocol.codes import CONTAINER_EPHEMERAL_OWNER, ERR, EVENT, OP
from protocol.messages import MULTI_TXN_RECORDS
from protocol.records import (
    ErrorTxn,
    MultiTxn,
    Stat,
    TxnHeader,
)

from .auth import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE
from .javahash import JavaHashSet
from .watches import WatchManager

_TTL_MASK = 0xFF00000000000000
_TTL_VALUE_MASK = ~(0xFF00000000000000 | 0x00FFFF0000000000) & 0xFFFFFFFFFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_STAT = struct.Struct(">qqqqiiiqiiq")
_DIGEST_STAT = struct.Struct(">qqqqqiiiq")
DIGEST_VERSION = 2
DIGEST_LOG_INTERVAL = 128  # zxids whose digest the `hash` command lists
DIGEST_LOG_LIMIT = 1024


def node_digest(path: str, node) -> int:
    """DigestCalculator.calculateDigest: CRC32 of path, data and the persisted stat.

    Nodes under /zookeeper/ are left out of the tree digest; the root digests as "".
    """
    if path.startswith("/zookeeper/"):
        return 0
    if path == "/":
        path = ""
    crc = zlib.crc32(path.encode("utf-8", "replace"))  # String.getBytes(): a lone surrogate becomes '?'
    if node.data is not None:
        crc = zlib.crc32(node.data, crc)
    return zlib.crc32(
        _DIGEST_STAT.pack(node.czxid, node.mzxid, node.pzxid, node.ctime, node.mtime, node.version, node.cversion,
                          node.aversion, node.ephemeral_owner),
        crc,
    )

EPHEMERAL_VOID, EPHEMERAL_NORMAL, EPHEMERAL_CONTAINER, EPHEMERAL_TTL = 0, 1, 2, 3


def ephemeral_type(owner: int, extended_types: bool) -> int:
    """EphemeralType.get(ephemeralOwner)."""
    if extended_types and (owner & _TTL_MASK) == _TTL_MASK:
        if (owner & 0x00FFFF0000000000) >> 40 == 0:
            return EPHEMERAL_TTL
        raise ValueError("Invalid ephemeralOwner %x" % (owner & _U64))
    if owner == CONTAINER_EPHEMERAL_OWNER:
        return EPHEMERAL_CONTAINER
    return EPHEMERAL_VOID if owner == 0 else EPHEMERAL_NORMAL


def ttl_owner(ttl: int) -> int:
    """EphemeralType.TTL.toEphemeralOwner, as a signed long."""
    v = _TTL_MASK | ttl
    return v - (1 << 64)


def ttl_of(owner: int) -> int:
    return owner & _TTL_VALUE_MASK


class Node:
    __slots__ = (
        "data",
        "acl",
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "version",
        "cversion",
        "aversion",
        "ephemeral_owner",
        "pzxid",
        "children",
        "digest",
    )

    def __init__(self, data, acl, czxid=0, mzxid=0, ctime=0, mtime=0, ephemeral_owner=0, pzxid=0):
        self.data = data
        self.acl = acl
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = 0
        self.cversion = 0
        self.aversion = 0
        self.ephemeral_owner = ephemeral_owner
        self.pzxid = pzxid
        self.children: JavaHashSet | None = None
        self.digest = 0  # node_digest() as of the last change (the tree digest adds these up)

    def child_count(self) -> int:
        c = self.children
        return len(c) if c is not None else 0

    def child_names(self) -> list[str]:
        c = self.children
        return list(c.ordered()) if c is not None else []


QUOTA_ROOT = "/zookeeper/quota"
QUOTA_LIMITS = "zookeeper_limits"
QUOTA_STATS = "zookeeper_stats"


def _parse_stats_track(data: bytes | None) -> dict | None:
    """StatsTrack(String): key=value pairs separated by ',' or ';'."""
    import re

    out: dict[str, int] = {}
    text = (data or b"").decode("utf-8", "replace")
    if not text:
        return out
    try:
        for pair in re.split("[,;]+", text):
            kv = [x for x in pair.split("=")]
            while kv and kv[-1] == "":
                kv.pop()
            out[kv[0]] = int(kv[1]) if len(kv) > 1 and kv[1] else -1
    except (ValueError, IndexError):
        return None
    return out


def _stats_track_bytes(stats: dict) -> bytes:
    """StatsTrack.toString, including its stray '=' before the extra keys."""
    text = "count=%d,bytes=%d" % (stats.get("count", -1), stats.get("bytes", -1))
    extra = sorted(k for k in stats if k not in ("count", "bytes"))
    if extra:
        text += "=" + "".join(";%s=%d" % (k, stats[k]) for k in extra)
    return text.encode("utf-8")


class ApplyResult:
    __slots__ = ("type", "err", "path", "stat", "multi", "zxid")

    def __init__(self, type_: int, zxid: int):
        self.type = type_
        self.zxid = zxid
        self.err = 0
        self.path: str | None = None
        self.stat: bytes | None = None  # the encoded Stat a create2, setData or setACL answers with
        self.multi: list[ApplyResult] | None = None




class NoNode(Exception):
    pass


class NodeExists(Exception):
    pass


class DataTree:
    def __init__(self, deliver: Callable | None = None, extended_types: bool = False):
        self.extended_types = extended_types
        self._deliver = deliver or (lambda watcher, event_type, path, acl: None)
        self.data_watches = WatchManager(self._deliver_event)
        self.child_watches = WatchManager(self._deliver_event)
        self.nodes: dict[str, Node] = {}
        self.ephemerals: dict[int, JavaHashSet] = {}
        self.containers: dict[str, None] = {}
        self.ttls: dict[str, None] = {}
        self.last_processed_zxid = 0
        self._acl_intern: dict[tuple, list] = {}
        root = Node(b"", self.intern_acl(OPEN_ACL_UNSAFE))
        self.nodes["/"] = root
        self.nodes[""] = root
        proc = Node(b"", root.acl)
        quota = Node(b"", root.acl)
        config = Node(b"", self.intern_acl(READ_ACL_UNSAFE))
        config.aversion = -1
        root.children = JavaHashSet(8, ["zookeeper"])
        proc.children = JavaHashSet(8, ["quota", "config"])
        self.nodes["/zookeeper"] = proc
        self.nodes["/zookeeper/quota"] = quota
        self.nodes["/zookeeper/config"] = config
        self.data_size = sum(len(p) + len(n.data) for p, n in self.nodes.items() if p)
        # the tree digest: AdHash (sum modulo 2**64) of every node digest.  A node changed since the
        # digest was last read is in _stale with its old digest taken out of the sum; its new one
        # is computed when the digest is read (every DIGEST_LOG_INTERVAL zxids, `hash`, a snapshot),
        # so a parent that gains 128 children in between is digested once, not 128 times
        self._digest_sum = 0
        self._stale: dict[str, Node] = {"/": root, "/zookeeper": proc}
        self.digest_log: list[tuple[int, int]] = []
        self.quota_paths: set[str] = set()  # ZooKeeper's PathTrie of paths with a zookeeper_limits node

    def rebuild_derived_state(self) -> None:
        """After nodes were loaded in bulk (a snapshot): recompute the data size, every node
        digest and the tree digest, and the quota paths with their stats (DataTree.setupQuota)."""
        nodes = self.nodes
        self.data_size = sum(len(p) + (len(n.data) if n.data is not None else 0) for p, n in nodes.items() if p)
        total = 0
        for p, n in nodes.items():
            if p != "/":  # the root's alias: it counts once, as ""
                n.digest = node_digest(p, n)
                total += n.digest
        self._stale.clear()
        self._digest_sum = total & _U64
        self.quota_paths.clear()
        suffix = "/" + QUOTA_LIMITS
        for p, n in list(nodes.items()):
            if p.startswith(QUOTA_ROOT + "/") and p.endswith(suffix) and not n.children:
                real = p[len(QUOTA_ROOT) : len(p) - len(suffix)]
                self._update_quota_for_path(real)
                self.quota_paths.add(real)

    def full_digest(self) -> int:
        """The tree digest recomputed from every node (a check of the running ``signed_digest``)."""
        total = 0
        for p, n in self.nodes.items():
            if p != "/":
                total += node_digest(p, n)
        total &= _U64
        return total - (1 << 64) if total >> 63 else total

    # --- the tree digest (NodeHashMapImpl + AdHash) ------------------------------------

    def _changed(self, path: str, node: Node) -> None:
        """``node`` (at ``path``; the root as "/") changed or is new: its digest is recomputed on the next read."""
        stale = self._stale
        if path not in stale:
            self._digest_sum -= node.digest  # a new node's is 0
            stale[path] = node

    def _removed(self, path: str, node: Node) -> None:
        if self._stale.pop(path, None) is None:
            self._digest_sum -= node.digest

    @property
    def digest(self) -> int:
        """The tree digest (unsigned), with every changed node's digest brought up to date."""
        stale = self._stale
        if stale:
            total = self._digest_sum
            for path, node in stale.items():
                node.digest = d = node_digest(path, node)
                total += d
            stale.clear()
            self._digest_sum = total & _U64
        return self._digest_sum & _U64

    @property
    def signed_digest(self) -> int:
        d = self.digest
        return d - (1 << 64) if d >> 63 else d

    # --- reading -------------------------------------------------------------------

    def set_deliver(self, deliver: Callable) -> None:
        self._deliver = deliver

    def _deliver_event(self, watcher, event_type, path, acl):
        self._deliver(watcher, event_type, path, acl)

    def intern_acl(self, acl: list) -> list:
        if len(acl) == 1:  # the usual case, without a generator
            a = acl[0]
            ident = a.id
            key = ((a.perms, ident.scheme, ident.id),)
        else:
            key = tuple((a.perms, a.id.scheme, a.id.id) for a in acl)
        got = self._acl_intern.get(key)
        if got is None:
            got = self._acl_intern[key] = list(acl)
        return got

    def interned_acls(self):
        """Every ACL list ``intern_acl`` has handed out, in the order each was first interned."""
        return self._acl_intern.values()

    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def stat_of(self, node: Node) -> Stat:
        n = len(node.children) if node.children is not None else 0
        owner = node.ephemeral_owner
        if owner and ephemeral_type(owner, self.extended_types) != EPHEMERAL_NORMAL:
            owner = 0
        return Stat(
            node.czxid,
            node.mzxid,
            node.ctime,
            node.mtime,
            node.version,
            node.cversion * 2 - n,
            node.aversion,
            owner,
            len(node.data) if node.data is not None else 0,
            n,
            node.pzxid,
        )

    def stat_bytes(self, node: Node) -> bytes:
        """The client Stat of ``node``, encoded (the hot path of getData and exists)."""
        n = len(node.children) if node.children is not None else 0
        owner = node.ephemeral_owner
        if owner and ephemeral_type(owner, self.extended_types) != EPHEMERAL_NORMAL:
            owner = 0
        data = node.data
        return _STAT.pack(node.czxid, node.mzxid, node.ctime, node.mtime, node.version, node.cversion * 2 - n,
                          node.aversion, owner, len(data) if data is not None else 0, n, node.pzxid)

    @property
    def node_count(self) -> int:
        # DataTree.getNodeCount is nodes.size(), and ZooKeeper's map holds the root twice (under "" and
        # "/"): a fresh server reports 5 for its 4 znodes (srvr "Node count", mntr zk_znode_count)
        return len(self.nodes)

    def all_children_number(self, path: str) -> int:
        """DataTree.getAllChildrenNumber: descendants, or all nodes but the root for '/'."""
        if path == "/":
            return len(self.nodes) - 2
        prefix = path + "/"
        return sum(1 for p in self.nodes if p.startswith(prefix))

    def ephemerals_of(self, session_id: int) -> list[str]:
        s = self.ephemerals.get(session_id)
        return list(s.java_clone().ordered()) if s is not None else []

    # --- applying txns ---------------------------------------------------------------

    def apply(self, hdr: TxnHeader, txn, *, sub: bool = False) -> ApplyResult:
        t = hdr.type
        rc = ApplyResult(t, hdr.zxid)
        try:
            if t == OP.CREATE or t == OP.CREATE2:
                rc.path = txn.path
                rc.stat = self.create_node(
                    txn.path,
                    txn.data,
                    txn.acl,
                    hdr.client_id if txn.ephemeral else 0,
                    txn.parent_c_version,
                    hdr.zxid,
                    hdr.time,
                    t == OP.CREATE2,
                )
            elif t == OP.CREATE_TTL:
                rc.path = txn.path
                rc.stat = self.create_node(
                    txn.path, txn.data, txn.acl, ttl_owner(txn.ttl), txn.parent_c_version, hdr.zxid, hdr.time, True
                )
            elif t == OP.CREATE_CONTAINER:
                rc.path = txn.path
                rc.stat = self.create_node(
                    txn.path,
                    txn.data,
                    txn.acl,
                    CONTAINER_EPHEMERAL_OWNER,
                    txn.parent_c_version,
                    hdr.zxid,
                    hdr.time,
                    True,
                )
            elif t == OP.DELETE or t == OP.DELETE_CONTAINER:
                rc.path = txn.path
                self.delete_node(txn.path, hdr.zxid)
            elif t == OP.SET_DATA or t == OP.RECONFIG:
                rc.path = txn.path
                rc.stat = self.set_data(txn.path, txn.data, txn.version, hdr.zxid, hdr.time)
            elif t == OP.SET_ACL:
                rc.path = txn.path
                rc.stat = self.set_acl(txn.path, txn.acl, txn.version)
            elif t == OP.CLOSE_SESSION:
                self.kill_session(hdr.client_id, hdr.zxid, txn.paths2_delete if txn is not None else None)
            elif t == OP.ERROR:
                rc.err = txn.err
            elif t == OP.CHECK:
                rc.path = txn.path
            elif t == OP.MULTI:
                self._apply_multi(hdr, txn, rc)
        except NoNode:
            rc.err = ERR.NONODE
        except NodeExists:
            rc.err = ERR.NODEEXISTS
        if t == OP.CREATE and rc.err == ERR.NODEEXISTS:
            # DataTree.processTxn: on replay over a fuzzy snapshot, a create that finds
            # its node already there still moves the parent's cversion and pzxid.
            parent_path = rc.path[: rc.path.rfind("/")]
            parent = self.nodes.get(parent_path)
            if parent is not None and txn.parent_c_version > parent.cversion:
                self._changed(parent_path or "/", parent)
                parent.cversion = txn.parent_c_version
                parent.pzxid = hdr.zxid
        if not sub:
            self.txn_applied(hdr.zxid)
        return rc

    def txn_applied(self, zxid: int) -> None:
        """A whole txn is in the tree: the last processed zxid, and the digest log every so many zxids."""
        if zxid > self.last_processed_zxid:
            self.last_processed_zxid = zxid
        if zxid % DIGEST_LOG_INTERVAL == 0:
            self.digest_log.append((zxid, self.signed_digest))
            if len(self.digest_log) > DIGEST_LOG_LIMIT:
                del self.digest_log[0]

    def _apply_multi(self, hdr: TxnHeader, txn: MultiTxn, rc: ApplyResult) -> None:
        rc.multi = []
        failed = any(sub.type == OP.ERROR for sub in txn.txns)
        post_failed = False
        for sub in txn.txns:
            sub_type = sub.type
            rec_cls = MULTI_TXN_RECORDS.get(sub_type)
            if rec_cls is None:
                raise ValueError("invalid type of op %d in multi txn" % sub_type)
            record = rec_cls.from_bytes(sub.data, exact=False)
            if sub_type == OP.ERROR:
                post_failed = True
            if failed and sub_type != OP.ERROR:
                record = ErrorTxn(ERR.RUNTIMEINCONSISTENCY if post_failed else ERR.OK)
                sub_type = OP.ERROR
            sub_hdr = TxnHeader(hdr.client_id, hdr.cxid, hdr.zxid, hdr.time, sub_type)
            sub_rc = self.apply(sub_hdr, record, sub=True)
            rc.multi.append(sub_rc)
            if sub_rc.err != 0 and rc.err == 0:
                rc.err = sub_rc.err

    def create_node(self, path, data, acl, owner, parent_cversion, zxid, time, want_stat) -> bytes | None:
        cut = path.rfind("/")
        parent_name = path[:cut]
        child_name = path[cut + 1 :]
        parent = self.nodes.get(parent_name)
        if parent is None:
            raise NoNode(path)
        acl = self.intern_acl(acl or [])
        existing = self.nodes.get(path)
        if existing is not None:
            existing.acl = acl  # DataTree.createNode does this, oddly, before NODEEXISTS
            raise NodeExists(path)
        self._changed(parent_name or "/", parent)
        if parent_cversion == -1:
            parent_cversion = parent.cversion + 1
        if parent_cversion > parent.cversion:
            parent.cversion = parent_cversion
            parent.pzxid = zxid
        child = Node(data, acl, zxid, zxid, time, time, owner, zxid)  # null data stays null
        if parent.children is None:
            parent.children = JavaHashSet(8)
        parent.children.add(child_name)
        self.nodes[path] = child
        self._changed(path, child)
        self.data_size += len(path) + (len(data) if data is not None else 0)
        kind = ephemeral_type(owner, self.extended_types) if owner else EPHEMERAL_VOID
        if kind == EPHEMERAL_CONTAINER:
            self.containers[path] = None
        elif kind == EPHEMERAL_TTL:
            self.ttls[path] = None
        elif owner != 0:
            eph = self.ephemerals.get(owner)
            if eph is None:
                eph = self.ephemerals[owner] = JavaHashSet(16)
            eph.add(path)
        if parent_name.startswith(QUOTA_ROOT):
            if child_name == QUOTA_LIMITS:
                self.quota_paths.add(parent_name[len(QUOTA_ROOT):])
            if child_name == QUOTA_STATS:
                self._update_quota_for_path(parent_name[len(QUOTA_ROOT):])
        if self.quota_paths:
            prefix = self._max_quota_prefix(path)
            if prefix is not None:
                self._update_quota_stat(prefix, len(data) if data is not None else 0, 1)
        stat = self.stat_bytes(child) if want_stat else None
        if self.data_watches.table:  # (an empty table: nobody to tell, recursive watches included)
            self.data_watches.trigger(path, EVENT.NODE_CREATED, acl)
        if self.child_watches.table:
            self.child_watches.trigger(parent_name or "/", EVENT.NODE_CHILDREN_CHANGED, parent.acl)
        return stat

    def delete_node(self, path: str, zxid: int) -> None:
        cut = path.rfind("/")
        parent_name = path[:cut]
        child_name = path[cut + 1 :]
        parent = self.nodes.get(parent_name)
        if parent is None:
            raise NoNode(path)
        self._changed(parent_name or "/", parent)
        if parent.children is not None:
            parent.children.discard(child_name)
        if zxid > parent.pzxid:
            parent.pzxid = zxid
        node = self.nodes.pop(path, None)
        if node is None:
            raise NoNode(path)
        self._removed(path, node)
        self.data_size -= len(path) + (len(node.data) if node.data is not None else 0)
        owner = node.ephemeral_owner
        if owner:
            kind = ephemeral_type(owner, self.extended_types)
            if kind == EPHEMERAL_CONTAINER:
                self.containers.pop(path, None)
            elif kind == EPHEMERAL_TTL:
                self.ttls.pop(path, None)
            else:
                eph = self.ephemerals.get(owner)
                if eph is not None:
                    eph.discard(path)
        if parent_name.startswith("/zookeeper") and child_name == QUOTA_LIMITS:
            self.quota_paths.discard(parent_name[len(QUOTA_ROOT):])
        prefix = self._max_quota_prefix(path)
        if prefix is not None:
            self._update_quota_stat(prefix, -(len(node.data) if node.data is not None else 0), -1)
        fired = self.data_watches.trigger(path, EVENT.NODE_DELETED, node.acl)
        self.child_watches.trigger(path, EVENT.NODE_DELETED, node.acl, fired)
        self.child_watches.trigger(parent_name or "/", EVENT.NODE_CHILDREN_CHANGED, parent.acl)

    def set_data(self, path: str, data, version: int, zxid: int, time: int) -> bytes:
        node = self.nodes.get(path)
        if node is None:
            raise NoNode(path)
        bytes_diff = (len(data) if data is not None else 0) - (len(node.data) if node.data is not None else 0)
        self.data_size += bytes_diff
        if self.quota_paths:
            prefix = self._max_quota_prefix(path)
            if prefix is not None:
                self._update_quota_stat(prefix, bytes_diff, 0)
        self._changed(path, node)
        node.data = data
        node.mtime = time
        node.mzxid = zxid
        node.version = version
        stat = self.stat_bytes(node)
        if self.data_watches.table:
            self.data_watches.trigger(path, EVENT.NODE_DATA_CHANGED, node.acl)
        return stat

    # --- quotas (DataTree.updateQuotaStat / updateQuotaForPath, PathTrie) -----------------

    def _max_quota_prefix(self, path: str) -> str | None:
        """getMaxPrefixWithQuota: the deepest ancestor-or-self with a quota, or None."""
        if not self.quota_paths:
            return None
        best = None
        prefix = ""
        for part in path.split("/"):
            if not part:
                continue
            prefix += "/" + part
            if prefix in self.quota_paths:
                best = prefix
        return best

    def _update_quota_for_path(self, path: str) -> None:
        """Count the nodes and bytes of a subtree into its zookeeper_stats node."""
        count = nbytes = 0
        node = self.nodes.get(path)
        stack = [(path, node)] if node is not None else []
        while stack:
            p, n = stack.pop()
            count += 1
            nbytes += len(n.data) if n.data is not None else 0
            for child in n.child_names():
                cp = (p if p != "/" else "") + "/" + child
                cn = self.nodes.get(cp)
                if cn is not None:
                    stack.append((cp, cn))
        stats = self.nodes.get(QUOTA_ROOT + path + "/" + QUOTA_STATS)
        if stats is not None:
            stats.data = _stats_track_bytes({"count": count, "bytes": nbytes})

    def _update_quota_stat(self, prefix: str, bytes_diff: int, count_diff: int) -> None:
        stats = self.nodes.get(QUOTA_ROOT + prefix + "/" + QUOTA_STATS)
        if stats is None:
            return  # ZooKeeper logs "Missing node for stat"
        track = _parse_stats_track(stats.data)
        if track is None:
            return
        track["count"] = track.get("count", -1) + count_diff
        track["bytes"] = track.get("bytes", -1) + bytes_diff
        stats.data = _stats_track_bytes(track)

    def set_acl(self, path: str, acl: list, version: int) -> bytes:
        node = self.nodes.get(path)
        if node is None:
            raise NoNode(path)
        self._changed(path, node)
        node.aversion = version
        node.acl = self.intern_acl(acl or [])
        return self.stat_bytes(node)

    def kill_session(self, session_id: int, zxid: int, paths_in_txn: list[str] | None) -> None:
        """DataTree.killSession: delete the session's ephemerals, those named in the txn first."""
        local = self.ephemerals.pop(session_id, None)
        if paths_in_txn is not None:
            self._delete_nodes(paths_in_txn, zxid)
        if local is None:
            return
        rest = local.ordered()
        if paths_in_txn is not None:
            named = set(paths_in_txn)
            rest = [p for p in rest if p not in named]
        self._delete_nodes(list(rest), zxid)

    def _delete_nodes(self, paths, zxid: int) -> None:
        for p in paths:
            try:
                self.delete_node(p, zxid)
            except NoNode:
                pass

    def set_watches(self, relative_zxid, data, exist, child, persistent, recursive, watcher) -> None:
        """DataTree.setWatches: re-arm a reconnecting client's watches or fire what it missed."""
        from .watches import PERSISTENT, PERSISTENT_RECURSIVE

        deliver = self._deliver
        for path in data or ():
            node = self.nodes.get(path)
            if node is None:
                deliver(watcher, EVENT.NODE_DELETED, path, None)
            elif node.mzxid > relative_zxid:
                deliver(watcher, EVENT.NODE_DATA_CHANGED, path, None)
            else:
                self.data_watches.add(path, watcher)
        for path in exist or ():
            if self.nodes.get(path) is not None:
                deliver(watcher, EVENT.NODE_CREATED, path, None)
            else:
                self.data_watches.add(path, watcher)
        for path in child or ():
            node = self.nodes.get(path)
            if node is None:
                deliver(watcher, EVENT.NODE_DELETED, path, None)
            elif node.pzxid > relative_zxid:
                deliver(watcher, EVENT.NODE_CHILDREN_CHANGED, path, None)
            else:
                self.child_watches.add(path, watcher)
        for path in persistent or ():
            self.child_watches.add(path, watcher, PERSISTENT)
            self.data_watches.add(path, watcher, PERSISTENT)
        for path in recursive or ():
            self.child_watches.add(path, watcher, PERSISTENT_RECURSIVE)
            self.data_watches.add(path, watcher, PERSISTENT_RECURSIVE)

    def remove_watcher(self, watcher) -> None:
        self.data_watches.remove_watcher(watcher)
        self.child_watches.remove_watcher(watcher)

    def container_candidates(self, wall_ms: int, max_never_used_ms: int = 0) -> list[str]:
        """ContainerManager.getCandidates: empty used containers and expired TTL nodes.

        ZooKeeper collects them in a HashSet and deletes them in its iteration order.
        """
        out = JavaHashSet(16)
        for path in self.containers:
            node = self.nodes.get(path)
            if node is not None and not node.children:
                if node.cversion > 0:
                    out.add(path)
                elif max_never_used_ms and wall_ms - node.mtime > max_never_used_ms:
                    out.add(path)
        for path in self.ttls:
            node = self.nodes.get(path)
            if node is not None and not node.children:
                ttl = ttl_of(node.ephemeral_owner)
                if ttl and wall_ms - node.mtime > ttl:
                    out.add(path)
        return list(out.ordered())

    def ephemeral_count(self) -> int:
        return sum(len(s) for s in self.ephemerals.values())
