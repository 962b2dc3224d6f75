"""ZooKeeper's tree digest (3.6+, digest version 2), as written in logs and snapshots.

Theory of operation
-------------------
With ``zookeeper.digest.enabled`` (the default) ZooKeeper keeps a running
digest of the whole DataTree: the sum, modulo 2^64, of one CRC32 per znode
(DigestCalculator + AdHash).  A znode's CRC32 covers, in this order:

- its path, as ``String.getBytes()`` (UTF-8), with "/" mapped to "" so the
  root counts once;
- its data (nothing when null);
- 60 bytes of stat, big-endian: czxid, mzxid, pzxid, ctime, mtime (longs),
  version, cversion (the *stored* cversion), aversion (ints), ephemeralOwner
  (long).

Everything under "/zookeeper/" is left out (the "/zookeeper" node itself
counts).  ACLs are not part of it.

Each log record carries ``TxnDigest(version=2, treeDigest)`` = the digest of
the tree *after* the txn; a snapshot ends with a ``ZxidDigest`` (zxid,
version, digest) of the last txn applied when it was written.

``zkcompat.core.tree.DataTree`` keeps this digest itself as txns apply
(``signed_digest``); ``tree_digest`` recomputes it from scratch, to check
that running value.  ``DigestTracker`` reads the tree's running digest, or,
for a tree without one, keeps it in time proportional to the nodes a txn
touches (subtracting their CRCs before the txn and adding them back after).
"""

from __future__ import annotations

import struct
import zlib

from protocol.codes import OpCode
from protocol.jute import JuteError
from protocol.records import CreateContainerTxn, CreateTTLTxn, CreateTxn, DeleteTxn, SetDataTxn

DIGEST_VERSION = 2
_STAT60 = struct.Struct(">qqqqqiiiq")
_U64 = (1 << 64) - 1
_EXCLUDED_PREFIX = "/zookeeper/"


def signed64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def node_digest(path: str, node) -> int:
    """DigestCalculator.calculateDigest for one znode (0 for nodes under /zookeeper/).

    An independent implementation of ``zkcompat.core.tree.node_digest``: ``tree_digest`` recomputes the
    digest from scratch with it, to check the tree's running one.
    """
    if path.startswith(_EXCLUDED_PREFIX):
        return 0
    if path == "/":
        path = ""
    crc = zlib.crc32(path.encode("utf-8", "replace"))
    if node.data is not None:
        crc = zlib.crc32(node.data, crc)
    crc = zlib.crc32(
        _STAT60.pack(
            node.czxid,
            node.mzxid,
            node.pzxid,
            node.ctime,
            node.mtime,
            node.version,
            node.cversion,
            node.aversion,
            node.ephemeral_owner,
        ),
        crc,
    )
    return crc


def tree_digest(tree) -> int:
    """The digest of a whole ``DataTree`` (a signed long, as ZooKeeper stores it)."""
    total = 0
    for path, node in tree.nodes.items():
        if path == "/":  # the root's alias; it is counted under ""
            continue
        total += node_digest(path, node)
    return signed64(total)


def _parent(path: str) -> str:
    return path[: path.rfind("/")]


_SUB_PATH_RECORDS = {
    OpCode.CREATE: CreateTxn,
    OpCode.CREATE2: CreateTxn,
    OpCode.CREATE_TTL: CreateTTLTxn,
    OpCode.CREATE_CONTAINER: CreateContainerTxn,
    OpCode.DELETE: DeleteTxn,
    OpCode.DELETE_CONTAINER: DeleteTxn,
    OpCode.SET_DATA: SetDataTxn,
}


def touched_paths(tree, hdr, txn) -> set[str]:
    """Every path whose node ``tree.apply(hdr, txn)`` may create, change or delete."""
    out: set[str] = set()
    t = hdr.type
    if t in (OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_TTL, OpCode.CREATE_CONTAINER, OpCode.DELETE,
             OpCode.DELETE_CONTAINER):
        out.add(txn.path)
        out.add(_parent(txn.path))
    elif t in (OpCode.SET_DATA, OpCode.RECONFIG, OpCode.SET_ACL):
        out.add(txn.path)
    elif t == OpCode.CLOSE_SESSION:
        paths = list(tree.ephemerals_of(hdr.client_id))
        if txn is not None and txn.paths2_delete:
            paths += list(txn.paths2_delete)
        for p in paths:
            out.add(p)
            out.add(_parent(p))
    elif t == OpCode.MULTI:
        for sub in txn.txns:
            cls = _SUB_PATH_RECORDS.get(sub.type)
            if cls is None:
                continue
            try:
                rec = cls.from_bytes(sub.data, exact=False)
            except (JuteError, struct.error, ValueError):  # apply() fails the same way: it touches nothing
                continue
            out.add(rec.path)
            if sub.type != OpCode.SET_DATA:
                out.add(_parent(rec.path))
    return out


class DigestTracker:
    """The running digest of one ``DataTree``; call ``apply`` instead of ``tree.apply``.

    A tree that keeps ZooKeeper's running digest itself (``signed_digest``) is
    simply asked; otherwise the digest is kept here.
    """

    def __init__(self, tree):
        self.tree = tree
        self._native = hasattr(tree, "signed_digest")
        self._value = 0 if self._native else tree_digest(tree)

    @property
    def value(self) -> int:
        return self.tree.signed_digest if self._native else self._value

    def _sum(self, paths) -> int:
        nodes = self.tree.nodes
        total = 0
        for p in paths:
            node = nodes.get(p if p else "")
            if node is not None:
                total += node_digest(p, node)
        return total

    def apply(self, hdr, txn):
        """``tree.apply(hdr, txn)``, keeping ``value`` equal to ``tree_digest(tree)``."""
        if self._native:
            return self.tree.apply(hdr, txn)
        paths = {("" if p == "/" else p) for p in touched_paths(self.tree, hdr, txn)}
        before = self._sum(paths)
        rc = self.tree.apply(hdr, txn)
        self._value = signed64(self._value - before + self._sum(paths))
        return rc
