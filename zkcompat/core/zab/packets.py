"""The messages leader and learners exchange (ZooKeeper's QuorumPacket types), as core objects.

The numbers are ZooKeeper's (Leader.java).  The core passes ``Packet`` objects;
the network edge turns them into QuorumPacket bytes (protocol.quorum) and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class PacketType(IntEnum):
    REQUEST = 1  # learner -> leader: a client write (or sync) to prepare and propose
    PROPOSAL = 2  # leader -> follower: log this txn and ACK it
    ACK = 3  # follower -> leader: logged (also acknowledges NEWLEADER)
    COMMIT = 4  # leader -> follower: apply the txn with this zxid
    PING = 5  # both ways: liveness; the learner's answer carries its session touches
    REVALIDATE = 6  # a session reconnecting to a learner: is it still valid?
    SYNC = 7  # leader -> learner: a client sync is answered
    INFORM = 8  # leader -> observer: a committed txn
    NEWLEADER = 10  # the end of the synchronisation stream
    FOLLOWERINFO = 11  # follower -> leader: accepted epoch and last zxid
    UPTODATE = 12  # leader -> learner: start serving
    DIFF = 13  # synchronisation by the txns the learner lacks
    TRUNC = 14  # drop logged txns after zxid, then DIFF
    SNAP = 15  # synchronisation by a whole snapshot
    OBSERVERINFO = 16
    LEADERINFO = 17  # leader -> learner: the new epoch
    ACKEPOCH = 18  # learner -> leader: current epoch and last logged zxid


@dataclass(slots=True)
class Packet:
    type: PacketType
    zxid: int = 0
    epoch: int = 0  # LEADERINFO, ACKEPOCH, FOLLOWERINFO (accepted epoch)
    sid: int = 0  # FOLLOWERINFO / OBSERVERINFO
    hdr: Any = None  # PROPOSAL, INFORM: the TxnHeader
    txn: Any = None  # PROPOSAL, INFORM: the txn record
    request: Any = None  # REQUEST: (session id, cxid, op, body bytes, [(scheme, id)])
    session_id: int = 0  # REVALIDATE, SYNC
    cxid: int = 0  # SYNC: the client request it answers
    timeout: int = 0  # REVALIDATE (request)
    valid: bool = False  # REVALIDATE (answer)
    touches: dict = field(default_factory=dict)  # PING answer: session id -> timeout
    snapshot: bytes | None = None  # SNAP: the serialised tree and sessions


def epoch_of(zxid: int) -> int:
    return zxid >> 32


def counter_of(zxid: int) -> int:
    return zxid & 0xFFFFFFFF


def make_zxid(epoch: int, counter: int) -> int:
    return (epoch << 32) | (counter & 0xFFFFFFFF)
