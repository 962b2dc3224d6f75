"""The messages leader and learners exchange (ZooKeeper's QuorumPacket types), as core objects.

The types are ZooKeeper's (protocol.quorum.PacketType).  The core passes
``Packet`` objects; the network edge turns them into QuorumPacket bytes
(protocol.quorum) and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.quorum import PacketType, counter_of, epoch_of, make_zxid

__all__ = ["Packet", "PacketType", "counter_of", "epoch_of", "make_zxid"]


@dataclass(slots=True)
class Packet:
    type: PacketType
    zxid: int = 0
    epoch: int = 0  # LEADERINFO, ACKEPOCH, FOLLOWERINFO (accepted epoch)
    sid: int = 0  # FOLLOWERINFO / OBSERVERINFO
    hdr: Any = None  # PROPOSAL, INFORM: the TxnHeader
    txn: Any = None  # PROPOSAL, INFORM: the txn record
    request: Any = None  # REQUEST: (session id, cxid, op, body bytes, [(scheme, id)])
    session_id: int = 0  # REVALIDATE
    timeout: int = 0  # REVALIDATE (request)
    valid: bool = False  # REVALIDATE (answer)
    touches: dict = field(default_factory=dict)  # PING answer: session id -> timeout
    snapshot: bytes | None = None  # SNAP: the snapshot body that follows it (storage.snapshot.snapshot_body)
