"""ZooKeeper's tree digest (3.6+, digest version 2), as written in logs and snapshots.

Theory of operation
-------------------
With ``zookeeper.digest.enabled`` (the default) ZooKeeper keeps a running
digest of the whole DataTree: the sum, modulo 2^64, of one CRC32 per znode
(DigestCalculator + AdHash) over its path ("/" counted as ""), its data and
60 bytes of persisted stat; everything under "/zookeeper/" is left out.
``zkcompat.core.tree.DataTree`` keeps that running digest itself as txns
apply (``node_digest``, ``signed_digest``).

Each log record carries ``TxnDigest(version=2, treeDigest)`` = the digest of
the tree *after* the txn; a snapshot ends with a ``ZxidDigest`` (zxid,
version, digest) of the last txn applied when it was written.
``tree_digest`` recomputes a tree's digest from every node, to check the
running value.
"""

from __future__ import annotations

DIGEST_VERSION = 2


def tree_digest(tree) -> int:
    """The digest of a whole ``DataTree``, recomputed (a signed long, as ZooKeeper stores it)."""
    return tree.full_digest()
