"""The quorum channel: what a Zab leader and its learners say to each other, sans-IO.

Theory of operation
-------------------
A learner (follower or observer) opens one TCP connection to the leader's
quorum port (``server.N=host:QUORUM_PORT:ELECTION_PORT``).  Without quorum SASL
and TLS (the defaults) nothing precedes the packets: both sides wrap the socket
in a jute ``BinaryOutputArchive``/``BinaryInputArchive`` and write/read
``QuorumPacket`` records *back to back, with no outer length prefix*
(Learner.writePacket/readPacket, LearnerHandler.run/sendPackets)::

    QuorumPacket := type:int  zxid:long  data:buffer  authinfo:vector<Id>

``data`` and ``authinfo`` are null (length/count -1) in most packets, which is
not the same bytes as empty.  A buffer or string longer than jute.maxbuffer +
zookeeper.jute.maxbuffer.extrasize (2 * 0xfffff by default) or shorter than -1
ends the connection (BinaryInputArchive.checkLength); a vector count below -1
reads as empty (BinaryIndex.done is ``nelems <= 0``).

The one exception to "packets back to back" is a snapshot sync: right after the
leader's SNAP packet comes the leader's database, written straight into the
same archive (ZKDatabase.serializeSnapshot), then the ustring "BenWasHere"
(LearnerHandler.run, Learner.syncWithLeader)::

    sessions   count:int  (id:long timeout:int)*count
    ACL cache  count:int  (id:long vector<ACL>)*count
    nodes      (path:ustring DataNode)*  "/":ustring       DataNode := data:buffer acl:long StatPersisted
    signature  "BenWasHere":ustring

That is a snapshot file's body without its FileHeader, seals and digest.  The
learner reads it only when SNAP is the packet that opens synchronisation (the
first of DIFF/TRUNC/SNAP it receives), so ``QuorumStreamDecoder`` does exactly
that and hands it over as one ``SnapshotPayload``.

The handshake (a 3.8 learner; LearnerHandler.run, Learner.registerWithLeader/syncWithLeader)::

    L->LD  FOLLOWERINFO|OBSERVERINFO  zxid=makeZxid(acceptedEpoch, 0)
                                      data=LearnerInfo{sid, 0x10000, configVersion}
    LD->L  LEADERINFO  zxid=makeZxid(newEpoch, 0)  data=int 0x10000
    L->LD  ACKEPOCH    zxid=lastLoggedZxid  data=int currentEpoch (-1: newEpoch was accepted already)
    LD->L  one of  DIFF zxid=maxCommittedLog (peerLastZxid when in sync)  [PROPOSAL, COMMIT]*
                   TRUNC zxid=truncate-to  [PROPOSAL, COMMIT]*
                   SNAP zxid=lastProcessedZxid, then the snapshot body
           then the proposals and commits queued since (Leader.startForwarding), then
           NEWLEADER   zxid=makeZxid(newEpoch, 0)  data=the leader's config (QuorumVerifier.toString)
    L->LD  ACK         zxid=makeZxid(newEpoch, 0)  (once all of the above is logged)
    LD->L  UPTODATE    zxid=-1
    L->LD  ACK         zxid=makeZxid(newEpoch, 0)  (again), then the ACKs of proposals logged during sync

The leader may PING as soon as NEWLEADER is queued; the learner answers no
PING before UPTODATE.  (A learner announcing a protocol below 0x10000 gets no
LEADERINFO, sends no ACKEPOCH, and gets a NEWLEADER with null data written
ahead of the queued DIFF/TRUNC; 3.8 learners never do that.)

Broadcast: learner -> leader REQUEST (forwarded client write), ACK (zxid of a
logged PROPOSAL), PING reply (session touches), REVALIDATE (session moved to
this learner); leader -> learner PROPOSAL / COMMIT (followers), INFORM
(observers: proposal data of a committed txn), PING (zxid = last proposed),
REVALIDATE reply, SYNC (a client's sync is answered), and for reconfig
COMMITANDACTIVATE / INFORMANDACTIVATE.  The builders and parsers below give
each packet's ``data`` layout and cite where ZooKeeper writes and reads it.

Errors: every decoder raises ``QuorumProtocolError`` (a ``JuteError``) on
input ZooKeeper would refuse, and nothing else.  Parsers are exactly as lenient
as ZooKeeper's readers (e.g. trailing bytes after a txn are ignored), so
re-encoding a parsed packet gives the bytes a 3.8 server writes, which for
every packet a 3.8 server sends are the original bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from .codes import JUTE_MAXBUFFER_DEFAULT, OpCode
from .jute import Buffer, JuteError, Long, Nested, _rd_ustring, java_utf8, record
from .records import (
    ACL,
    CreateTxn,
    CreateTxnV0,
    LearnerInfo,
    QuorumPacket,
    StatPersisted,
    TxnDigest,
    TxnHeader,
)

__all__ = [
    "LEARNER_INFO_PROTOCOL_DEFAULT",
    "QUORUM_BUFFER_MAX_DEFAULT",
    "SNAP_SIGNATURE",
    "TXN_RECORDS",
    "ZAB_PROTOCOL_VERSION",
    "DataNode",
    "LearnerInfoData",
    "LearnerRequest",
    "PacketType",
    "QuorumProtocolError",
    "QuorumStreamDecoder",
    "SnapshotPayload",
    "TxnEntry",
    "ack_epoch_packet",
    "ack_packet",
    "commit_and_activate_packet",
    "commit_packet",
    "counter_of",
    "decode_packet",
    "decode_snapshot_payload",
    "decode_txn_entry",
    "diff_packet",
    "encode_packet",
    "encode_snapshot_payload",
    "encode_touches",
    "encode_txn_entry",
    "epoch_of",
    "inform_and_activate_packet",
    "inform_packet",
    "leader_info_packet",
    "learner_info_packet",
    "make_zxid",
    "new_leader_packet",
    "packet",
    "parse_ack_epoch",
    "parse_commit_and_activate",
    "parse_inform",
    "parse_inform_and_activate",
    "parse_leader_info",
    "parse_learner_info",
    "parse_new_leader",
    "parse_ping_touches",
    "parse_proposal",
    "parse_request",
    "parse_revalidate",
    "parse_revalidate_reply",
    "ping_packet",
    "ping_reply_packet",
    "proposal_packet",
    "request_packet",
    "revalidate_packet",
    "revalidate_reply_packet",
    "snap_packet",
    "sync_packet",
    "trunc_packet",
    "uptodate_packet",
]


class QuorumProtocolError(JuteError):
    """Bytes on the quorum channel that ZooKeeper would refuse (it closes the connection)."""


class PacketType(IntEnum):
    """QuorumPacket.type: the constants of Leader.java (names as ZooKeeper spells them)."""

    REQUEST = 1  # learner -> leader: a client request to prepare (Learner.request)
    PROPOSAL = 2  # leader -> follower: log this txn, then ACK it (Leader.propose)
    ACK = 3  # learner -> leader: txn logged / NEWLEADER processed / synced
    COMMIT = 4  # leader -> follower: apply the txn with this zxid (Leader.commit)
    PING = 5  # both ways; the learner's reply carries its session touches
    REVALIDATE = 6  # learner -> leader: is this session valid?  and the answer back
    SYNC = 7  # leader -> learner: the client's sync is done (Leader.sendSync)
    INFORM = 8  # leader -> observer: a committed proposal (Leader.inform)
    COMMITANDACTIVATE = 9  # leader -> follower: commit a reconfig and activate it
    NEWLEADER = 10  # leader -> learner: end of the sync stream, with the config
    FOLLOWERINFO = 11  # follower -> leader: first packet of the handshake
    UPTODATE = 12  # leader -> learner: start serving
    DIFF = 13  # sync by sending the missing proposals
    TRUNC = 14  # sync by truncating the learner's log to zxid (then proposals)
    SNAP = 15  # sync by sending the whole database
    OBSERVERINFO = 16  # observer -> leader: first packet of the handshake
    LEADERINFO = 17  # leader -> learner: the proposed new epoch
    ACKEPOCH = 18  # learner -> leader: epoch accepted, and the learner's last zxid
    INFORMANDACTIVATE = 19  # leader -> observer: inform of a reconfig and activate it


ZAB_PROTOCOL_VERSION = 0x10000  # "Zab 1.0": LearnerInfo.protocolVersion and LEADERINFO data
SNAP_SIGNATURE = "BenWasHere"  # ends a SNAP's database dump
# BinaryInputArchive.checkLength: maxBuffer + extraMaxBuffer (the latter defaults to maxBuffer)
QUORUM_BUFFER_MAX_DEFAULT = 2 * JUTE_MAXBUFFER_DEFAULT
LEARNER_INFO_PROTOCOL_DEFAULT = 0x1  # LearnerHandler.version when the learner sent none

_U64 = (1 << 64) - 1
_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_QI = struct.Struct(">qi")
_QII = struct.Struct(">qii")
_QB = struct.Struct(">q?")
_INCOMPLETE = -1


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


# --- zxids (ZxidUtils) ------------------------------------------------------------------


def epoch_of(zxid: int) -> int:
    """ZxidUtils.getEpochFromZxid: the high 32 bits, sign-extended (``zxid >> 32``)."""
    return _s64(zxid) >> 32


def counter_of(zxid: int) -> int:
    """ZxidUtils.getCounterFromZxid: the low 32 bits, unsigned."""
    return zxid & 0xFFFFFFFF


def make_zxid(epoch: int, counter: int) -> int:
    """ZxidUtils.makeZxid: ``(epoch << 32) | (counter & 0xffffffff)`` as a Java long."""
    return _s64((epoch << 32) | (counter & 0xFFFFFFFF))


# --- packets ----------------------------------------------------------------------------


def packet(type: int, zxid: int = 0, data: bytes | None = None, authinfo: list | None = None) -> QuorumPacket:
    """A QuorumPacket; ``data``/``authinfo`` None are written as null (-1)."""
    return QuorumPacket(int(type), zxid, data, authinfo)


def encode_packet(qp: QuorumPacket) -> bytes:
    """The bytes BinaryOutputArchive.writeRecord(qp) puts on the socket: the record, no prefix."""
    return QuorumPacket.encode(qp)


def _end_of_bytes(buf, pos: int, limit: int, what: str) -> int:
    """End of a jute buffer/ustring at ``pos``; -1 if incomplete.  Null (-1) is allowed."""
    if len(buf) - pos < 4:
        return _INCOMPLETE
    (n,) = _I.unpack_from(buf, pos)
    if n == -1:
        return pos + 4
    if n < 0 or n > limit:
        raise QuorumProtocolError("Unreasonable length = %d (%s)" % (n, what))
    end = pos + 4 + n
    return end if end <= len(buf) else _INCOMPLETE


def _end_of_packet(buf, pos: int, limit: int) -> int:
    """End of the QuorumPacket starting at ``pos``, -1 if it is not all there yet."""
    if len(buf) - pos < 12:
        return _INCOMPLETE
    p = _end_of_bytes(buf, pos + 12, limit, "QuorumPacket.data")
    if p < 0 or len(buf) - p < 4:
        return _INCOMPLETE
    (count,) = _I.unpack_from(buf, p)
    p += 4
    for _ in range(count):  # -1 (null) and other negative counts: no elements
        for what in ("Id.scheme", "Id.id"):
            p = _end_of_bytes(buf, p, limit, what)
            if p < 0:
                return _INCOMPLETE
    return p


def decode_packet(buf, pos: int = 0, *, max_buffer: int = QUORUM_BUFFER_MAX_DEFAULT) -> tuple[QuorumPacket, int]:
    """Decode one QuorumPacket at ``pos``: ``(packet, end)``.  Incomplete input is an error here;
    use ``QuorumStreamDecoder`` to read a stream."""
    end = _end_of_packet(buf, pos, max_buffer)
    if end < 0:
        raise QuorumProtocolError("QuorumPacket: truncated")
    qp, end = QuorumPacket.decode(buf, pos)
    return qp, end


def _data(qp: QuorumPacket, what: str) -> bytes:
    if qp.data is None:
        raise QuorumProtocolError("%s: data is null" % what)
    return qp.data


def _expect(qp: QuorumPacket, *types: int) -> None:
    if qp.type not in types:
        raise QuorumProtocolError(
            "expected %s, got packet type %d" % ("/".join(PacketType(t).name for t in types), qp.type)
        )


# --- transactions: the data of PROPOSAL / INFORM ---------------------------------------

from .messages import TXN_RECORDS  # noqa: E402  (re-exported: the txn record of each type)

_DIGEST_SIZE = 12


@dataclass(slots=True)
class TxnEntry:
    """One marshalled txn (Util.marshallTxnEntry): TxnHeader, txn record (or None), TxnDigest (or None)."""

    hdr: TxnHeader
    txn: object = None
    digest: TxnDigest | None = None

    def to_bytes(self) -> bytes:
        return encode_txn_entry(self.hdr, self.txn, self.digest)


def encode_txn_entry(hdr: TxnHeader, txn=None, digest: TxnDigest | None = None) -> bytes:
    """Util.marshallTxnEntry (SerializeUtils.serializeRequest): what PROPOSAL and INFORM carry."""
    out = TxnHeader.encode(hdr)
    if txn is not None:
        out += txn.to_bytes()
    if digest is not None:
        out += TxnDigest.encode(digest)
    return out


def decode_txn_entry(data: bytes) -> TxnEntry:
    """SerializeUtils.deserializeTxn, as a 3.8 server with digests enabled (the default) reads it.

    - the txn record is chosen by the header's type (``TXN_RECORDS``); any other
      type is refused ("Unsupported Txn");
    - a create too short for CreateTxn is read as a pre-3.3 ``CreateTxnV0`` and
      becomes a CreateTxn with parentCVersion -1; a closeSession with no body
      (before 3.6) has txn None;
    - a TxnDigest follows when at least 12 bytes remain; fewer, or anything
      after the digest, is ignored, as ZooKeeper does.
    """
    try:
        hdr, pos = TxnHeader.decode(data, 0)
        cls = TXN_RECORDS.get(hdr.type)
        if cls is None:
            raise QuorumProtocolError("Unsupported Txn with type=%d" % hdr.type)
        try:
            txn, pos = cls.decode(data, pos)
        except JuteError:
            if hdr.type == OpCode.CREATE:
                v0, pos = CreateTxnV0.decode(data, pos)
                txn = CreateTxn(v0.path, v0.data, v0.acl, v0.ephemeral, -1)
            elif hdr.type == OpCode.CLOSE_SESSION:
                txn = None
            else:
                raise
        digest = None
        if len(data) - pos >= _DIGEST_SIZE:
            digest, pos = TxnDigest.decode(data, pos)
        return TxnEntry(hdr, txn, digest)
    except QuorumProtocolError:
        raise
    except JuteError as e:
        raise QuorumProtocolError("txn entry: %s" % e) from e


# --- per-packet data: builders and parsers ------------------------------------------------


@dataclass(slots=True)
class LearnerRequest:
    """REQUEST data (Learner.request; LearnerHandler.run): sessionId:long cxid:int type:int, then the
    client's request body (after its RequestHeader; none for closeSession, the timeout int for
    createSession).  ``authinfo`` is the client connection's auth ids (QuorumPacket.authinfo)."""

    session_id: int
    cxid: int
    type: int
    request: bytes = b""
    authinfo: list | None = None


def request_packet(req: LearnerRequest) -> QuorumPacket:
    """REQUEST: zxid -1."""
    return packet(PacketType.REQUEST, -1, _QII.pack(req.session_id, req.cxid, req.type) + req.request, req.authinfo)


def parse_request(qp: QuorumPacket) -> LearnerRequest:
    _expect(qp, PacketType.REQUEST)
    data = _data(qp, "REQUEST")
    if len(data) < 16:
        raise QuorumProtocolError("REQUEST: %d bytes, need sessionId, cxid and type" % len(data))
    sid, cxid, typ = _QII.unpack_from(data, 0)
    return LearnerRequest(sid, cxid, typ, bytes(data[16:]), qp.authinfo)


def proposal_packet(entry: TxnEntry) -> QuorumPacket:
    """PROPOSAL: zxid = the txn's zxid, data = the marshalled txn entry (Leader.propose)."""
    return packet(PacketType.PROPOSAL, entry.hdr.zxid, entry.to_bytes())


def parse_proposal(qp: QuorumPacket) -> TxnEntry:
    """PROPOSAL or INFORM data (Follower/Observer.processPacket, Learner.syncWithLeader)."""
    _expect(qp, PacketType.PROPOSAL, PacketType.INFORM)
    return decode_txn_entry(_data(qp, PacketType(qp.type).name))


def inform_packet(zxid: int, proposal_data: bytes) -> QuorumPacket:
    """INFORM: the PROPOSAL's data, sent to observers once committed (Leader.inform)."""
    return packet(PacketType.INFORM, zxid, proposal_data)


parse_inform = parse_proposal


def inform_and_activate_packet(zxid: int, designated_leader: int, proposal_data: bytes) -> QuorumPacket:
    """INFORMANDACTIVATE: data = designatedLeader:long + the proposal's data (Leader.buildInformAndActivePacket)."""
    return packet(PacketType.INFORMANDACTIVATE, zxid, _Q.pack(designated_leader) + proposal_data)


def parse_inform_and_activate(qp: QuorumPacket) -> tuple[int, TxnEntry]:
    _expect(qp, PacketType.INFORMANDACTIVATE)
    data = _data(qp, "INFORMANDACTIVATE")
    if len(data) < 8:
        raise QuorumProtocolError("INFORMANDACTIVATE: %d bytes" % len(data))
    return _Q.unpack_from(data, 0)[0], decode_txn_entry(data[8:])


def commit_packet(zxid: int) -> QuorumPacket:
    """COMMIT: zxid, no data (Leader.commit; also the COMMIT after each PROPOSAL of a DIFF)."""
    return packet(PacketType.COMMIT, zxid)


def commit_and_activate_packet(zxid: int, designated_leader: int) -> QuorumPacket:
    """COMMITANDACTIVATE: data = designatedLeader:long (Leader.commitAndActivate)."""
    return packet(PacketType.COMMITANDACTIVATE, zxid, _Q.pack(designated_leader))


def parse_commit_and_activate(qp: QuorumPacket) -> int:
    """The designated leader (Follower.processPacket reads one long; extra bytes are ignored)."""
    _expect(qp, PacketType.COMMITANDACTIVATE)
    data = _data(qp, "COMMITANDACTIVATE")
    if len(data) < 8:
        raise QuorumProtocolError("COMMITANDACTIVATE: %d bytes" % len(data))
    return _Q.unpack_from(data, 0)[0]


def ack_packet(zxid: int) -> QuorumPacket:
    """ACK: zxid, no data (SendAckRequestProcessor; Learner.syncWithLeader for NEWLEADER/UPTODATE)."""
    return packet(PacketType.ACK, zxid)


def ping_packet(last_proposed: int) -> QuorumPacket:
    """The leader's PING: zxid = last proposed zxid, no data (LearnerHandler.ping)."""
    return packet(PacketType.PING, last_proposed)


def encode_touches(touches) -> bytes:
    """The session touch table: (sessionId:long timeout:int)* with no count (Learner.ping)."""
    items = touches.items() if hasattr(touches, "items") else touches
    return b"".join(_QI.pack(sid, to) for sid, to in items)


def ping_reply_packet(ping: QuorumPacket, touches) -> QuorumPacket:
    """The learner's answer: same type and zxid, data = touch table, the ping's authinfo echoed."""
    return packet(ping.type, ping.zxid, encode_touches(touches), ping.authinfo)


def parse_ping_touches(qp: QuorumPacket) -> list[tuple[int, int]]:
    """LearnerHandler.run: (sessionId, timeout) pairs while bytes remain; a partial pair ends the
    connection (EOFException).  Null data (which no learner sends) is refused too."""
    _expect(qp, PacketType.PING)
    data = _data(qp, "PING")
    if len(data) % 12:
        raise QuorumProtocolError("PING: touch table of %d bytes is not a whole number of entries" % len(data))
    return [_QI.unpack_from(data, i) for i in range(0, len(data), 12)]


def revalidate_packet(session_id: int, timeout: int) -> QuorumPacket:
    """Learner -> leader REVALIDATE: zxid -1, data = sessionId:long timeout:int (Learner.validateSession)."""
    return packet(PacketType.REVALIDATE, -1, _QI.pack(session_id, timeout))


def parse_revalidate(qp: QuorumPacket) -> tuple[int, int]:
    """(sessionId, timeout) as Leader.revalidateSession reads them (extra bytes ignored)."""
    _expect(qp, PacketType.REVALIDATE)
    data = _data(qp, "REVALIDATE")
    if len(data) < 12:
        raise QuorumProtocolError("REVALIDATE: %d bytes, need sessionId and timeout" % len(data))
    return _QI.unpack_from(data, 0)


def revalidate_reply_packet(request: QuorumPacket, session_id: int, valid: bool) -> QuorumPacket:
    """Leader -> learner: the request packet sent back with data = sessionId:long valid:boolean
    (Leader.revalidateSession replaces the data of the packet it received, zxid and authinfo kept)."""
    return packet(PacketType.REVALIDATE, request.zxid, _QB.pack(session_id, valid), request.authinfo)


def parse_revalidate_reply(qp: QuorumPacket) -> tuple[int, bool]:
    """(sessionId, valid) as Learner.revalidate reads them: any non-zero byte is true."""
    _expect(qp, PacketType.REVALIDATE)
    data = _data(qp, "REVALIDATE")
    if len(data) < 9:
        raise QuorumProtocolError("REVALIDATE reply: %d bytes, need sessionId and valid" % len(data))
    return _Q.unpack_from(data, 0)[0], data[8] != 0


def sync_packet() -> QuorumPacket:
    """Leader -> learner SYNC: zxid 0, no data (Leader.sendSync).  The learner's side of a
    sync is a REQUEST of type OpCode.SYNC."""
    return packet(PacketType.SYNC, 0)


@dataclass(slots=True)
class LearnerInfoData:
    """FOLLOWERINFO/OBSERVERINFO as LearnerHandler.run reads it.

    ``sid`` is None when data is null (LearnerHandler then numbers the learner
    itself); ``protocol_version`` defaults to 0x1 and ``config_version`` to None
    when the data is too short to hold them (old learners).
    """

    type: int
    accepted_epoch: int
    sid: int | None
    protocol_version: int = ZAB_PROTOCOL_VERSION
    config_version: int | None = 0


def learner_info_packet(
    type: int, accepted_epoch: int, sid: int, config_version: int, protocol_version: int = ZAB_PROTOCOL_VERSION
) -> QuorumPacket:
    """FOLLOWERINFO/OBSERVERINFO: zxid = makeZxid(acceptedEpoch, 0), data = LearnerInfo (Learner.registerWithLeader)."""
    if type not in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
        raise ValueError("learner info is FOLLOWERINFO or OBSERVERINFO, not %r" % type)
    info = LearnerInfo(sid, protocol_version, config_version)
    return packet(type, make_zxid(accepted_epoch, 0), LearnerInfo.encode(info))


def parse_learner_info(qp: QuorumPacket) -> LearnerInfoData:
    """Read as LearnerHandler.run does: sid if >= 8 bytes, version if >= 12, config version if >= 20."""
    _expect(qp, PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO)
    out = LearnerInfoData(qp.type, epoch_of(qp.zxid), None, LEARNER_INFO_PROTOCOL_DEFAULT, None)
    data = qp.data
    if data is not None:
        if len(data) >= 8:
            out.sid = _Q.unpack_from(data, 0)[0]
        if len(data) >= 12:
            out.protocol_version = _I.unpack_from(data, 8)[0]
        if len(data) >= 20:
            out.config_version = _Q.unpack_from(data, 12)[0]
    return out


def leader_info_packet(new_epoch: int, protocol_version: int = ZAB_PROTOCOL_VERSION) -> QuorumPacket:
    """LEADERINFO: zxid = makeZxid(newEpoch, 0), data = protocolVersion:int (LearnerHandler.run)."""
    return packet(PacketType.LEADERINFO, make_zxid(new_epoch, 0), _I.pack(protocol_version))


def parse_leader_info(qp: QuorumPacket) -> tuple[int, int]:
    """(new epoch, leader protocol version) as Learner.registerWithLeader reads them."""
    _expect(qp, PacketType.LEADERINFO)
    data = _data(qp, "LEADERINFO")
    if len(data) < 4:
        raise QuorumProtocolError("LEADERINFO: %d bytes" % len(data))
    return epoch_of(qp.zxid), _I.unpack_from(data, 0)[0]


def ack_epoch_packet(current_epoch: int, last_logged_zxid: int) -> QuorumPacket:
    """ACKEPOCH: zxid = the learner's last logged zxid, data = currentEpoch:int, or -1 when the
    learner had already accepted the proposed epoch (Learner.registerWithLeader)."""
    return packet(PacketType.ACKEPOCH, last_logged_zxid, _I.pack(current_epoch))


def parse_ack_epoch(qp: QuorumPacket) -> tuple[int, int]:
    """(current epoch, last zxid): LearnerHandler.run's StateSummary."""
    _expect(qp, PacketType.ACKEPOCH)
    data = _data(qp, "ACKEPOCH")
    if len(data) < 4:
        raise QuorumProtocolError("ACKEPOCH: %d bytes" % len(data))
    return _I.unpack_from(data, 0)[0], qp.zxid


def new_leader_packet(new_epoch: int, config: bytes | None) -> QuorumPacket:
    """NEWLEADER: zxid = makeZxid(newEpoch, 0), data = the leader's last seen config
    (QuorumVerifier.toString in UTF-8; null for learners older than Zab 1.0)."""
    return packet(PacketType.NEWLEADER, make_zxid(new_epoch, 0), config)


def parse_new_leader(qp: QuorumPacket) -> tuple[int, bytes | None]:
    """(new epoch, config bytes or None): Learner.syncWithLeader uses the config only when the
    data holds more than one byte."""
    _expect(qp, PacketType.NEWLEADER)
    config = qp.data if qp.data is not None and len(qp.data) > 1 else None
    return epoch_of(qp.zxid), config


def diff_packet(zxid: int) -> QuorumPacket:
    """DIFF: zxid = where the PROPOSAL/COMMIT pairs that follow take the learner (the leader's
    maxCommittedLog; the learner's own last zxid when it is already in sync)."""
    return packet(PacketType.DIFF, zxid)


def trunc_packet(zxid: int) -> QuorumPacket:
    """TRUNC: the learner truncates its log to ``zxid`` (proposals may follow)."""
    return packet(PacketType.TRUNC, zxid)


def snap_packet(zxid: int) -> QuorumPacket:
    """SNAP: zxid = the leader's last processed zxid; the snapshot body follows on the stream."""
    return packet(PacketType.SNAP, zxid)


def uptodate_packet() -> QuorumPacket:
    """UPTODATE: zxid -1, no data."""
    return packet(PacketType.UPTODATE, -1)


# --- the SNAP payload ---------------------------------------------------------------------

DataNode = record("DataNode", "data" / Buffer, "acl" / Long, "stat" / Nested(StatPersisted))
_STAT_SIZE = 60  # StatPersisted: 4 longs, 3 ints, 2 longs


@dataclass(slots=True)
class SnapshotPayload:
    """What follows a SNAP packet (SerializeUtils.serializeSnapshot + the signature).

    Lists keep the leader's order so that re-encoding gives its bytes:
    ``sessions`` [(sessionId, timeout)], ``acls`` [(ACL cache key, [ACL])],
    ``nodes`` [(path, DataNode)] depth first from the root "" (DataTree.serializeNode).
    A node's ``acl`` is a key of ``acls``; -1 is OPEN_ACL_UNSAFE.
    """

    sessions: list = field(default_factory=list)
    acls: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    signature: str = SNAP_SIGNATURE


def _wr_ustring(s: str) -> bytes:
    b = java_utf8(s)
    return _I.pack(len(b)) + b


def encode_snapshot_payload(p: SnapshotPayload) -> bytes:
    """The bytes LearnerHandler writes after SNAP (serializeSnapshot, then "BenWasHere")."""
    out = [_I.pack(len(p.sessions))]
    out += [_QI.pack(sid, to) for sid, to in p.sessions]
    out.append(_I.pack(len(p.acls)))
    for key, acl in p.acls:
        out.append(_Q.pack(key) + _I.pack(len(acl)))
        out += [ACL.encode(a) for a in acl]
    for path, node in p.nodes:
        out.append(_wr_ustring(path))
        out.append(DataNode.encode(node))
    out.append(_wr_ustring("/"))
    out.append(_wr_ustring(p.signature))
    return b"".join(out)


class _SnapshotReader:
    """Reads a snapshot body incrementally: each ``step`` consumes whole items only.

    Checks as Learner.syncWithLeader/DataTree.deserialize do: lengths within
    the archive's limit, an ACL list that is not null, node paths that are not
    null, and the "BenWasHere" signature.  (Whether each node's parent exists is
    the data tree's business, not the wire's.)
    """

    __slots__ = ("left", "limit", "payload", "phase")

    def __init__(self, limit: int):
        self.limit = limit
        self.phase = "sessions"
        self.left = None  # items left in the current counted section
        self.payload = SnapshotPayload()

    def step(self, buf, pos: int) -> tuple[int, bool]:
        """Consume what is complete from ``buf[pos:]``; returns (new pos, finished)."""
        limit = self.limit
        n = len(buf)
        while True:
            if self.phase in ("sessions", "acls") and self.left is None:
                if n - pos < 4:
                    return pos, False
                self.left = _I.unpack_from(buf, pos)[0]
                pos += 4
                continue
            if self.phase == "sessions":
                if self.left <= 0:
                    self.phase, self.left = "acls", None
                    continue
                if n - pos < 12:
                    return pos, False
                self.payload.sessions.append(_QI.unpack_from(buf, pos))
                pos += 12
                self.left -= 1
            elif self.phase == "acls":
                if self.left <= 0:
                    self.phase, self.left = "nodes", None
                    continue
                if n - pos < 12:
                    return pos, False
                key, count = _QI.unpack_from(buf, pos)
                if count == -1:
                    raise QuorumProtocolError(
                        "Incorrent format of InputArchive when deserialize DataTree - missing acls"
                    )
                p = pos + 12
                for _ in range(count):
                    if n - p < 4:
                        return pos, False
                    p = _end_of_bytes(buf, p + 4, limit, "ACL.id.scheme")
                    if p >= 0:
                        p = _end_of_bytes(buf, p, limit, "ACL.id.id")
                    if p < 0:
                        return pos, False
                acl = []
                q = pos + 12
                for _ in range(count):
                    a, q = ACL.decode(buf, q)
                    acl.append(a)
                self.payload.acls.append((key, acl))
                pos = p
                self.left -= 1
            elif self.phase == "nodes":
                p = _end_of_bytes(buf, pos, limit, "node path")
                if p < 0:
                    return pos, False
                (plen,) = _I.unpack_from(buf, pos)
                if plen == -1:
                    raise QuorumProtocolError("snapshot: null node path")
                if plen == 1 and buf[pos + 4] == 0x2F:  # "/": end of the nodes
                    self.phase = "signature"
                    pos = p
                    continue
                p = _end_of_bytes(buf, p, limit, "node data")
                if p < 0 or n - p < 8 + _STAT_SIZE:
                    return pos, False
                path, q = _rd_ustring(buf, pos)
                node, q = DataNode.decode(buf, q)
                self.payload.nodes.append((path, node))
                pos = q
            else:  # signature
                p = _end_of_bytes(buf, pos, limit, "signature")
                if p < 0:
                    return pos, False
                (slen,) = _I.unpack_from(buf, pos)
                sig = None if slen == -1 else bytes(buf[pos + 4 : p])
                if sig != SNAP_SIGNATURE.encode():
                    raise QuorumProtocolError("Missing signature. Got %r" % (sig,))
                return p, True


def decode_snapshot_payload(
    buf, pos: int = 0, *, max_buffer: int = QUORUM_BUFFER_MAX_DEFAULT
) -> tuple[SnapshotPayload, int]:
    """Decode a whole snapshot body at ``pos``: ``(payload, end)``; incomplete input is an error."""
    reader = _SnapshotReader(max_buffer)
    end, done = reader.step(buf, pos)
    if not done:
        raise QuorumProtocolError("snapshot: truncated")
    return reader.payload, end


# --- the stream ---------------------------------------------------------------------------


class QuorumStreamDecoder:
    """Splits one direction of a quorum connection into QuorumPackets (and, after the SNAP that
    opens a sync, one ``SnapshotPayload``).

    ``from_leader``: True for the bytes a leader sends to a learner (only that
    direction can carry a snapshot).  ``feed(data)`` returns the items ``data``
    completes; partial input is kept.  Bad input raises ``QuorumProtocolError``,
    after which the decoder is dead (the next ``feed`` raises it again): ZooKeeper
    closes the connection.
    """

    __slots__ = ("_buf", "_snapshot", "_sync_started", "error", "from_leader", "max_buffer")

    def __init__(self, *, from_leader: bool, max_buffer: int = QUORUM_BUFFER_MAX_DEFAULT):
        self.from_leader = from_leader
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self._sync_started = False
        self._snapshot: _SnapshotReader | None = None
        self.error: QuorumProtocolError | None = None

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    @property
    def in_snapshot(self) -> bool:
        """True between a sync's SNAP packet and the end of its snapshot body."""
        return self._snapshot is not None

    def feed(self, data: bytes) -> list:
        if self.error is not None:
            raise self.error
        buf = self._buf
        buf += data
        out: list = []
        pos = 0
        try:
            while True:
                if self._snapshot is not None:
                    pos, done = self._snapshot.step(buf, pos)
                    if not done:
                        break
                    out.append(self._snapshot.payload)
                    self._snapshot = None
                    continue
                end = _end_of_packet(buf, pos, self.max_buffer)
                if end < 0:
                    break
                qp, end = QuorumPacket.decode(buf, pos)
                pos = end
                out.append(qp)
                if (
                    self.from_leader
                    and not self._sync_started
                    and qp.type
                    in (
                        PacketType.DIFF,
                        PacketType.TRUNC,
                        PacketType.SNAP,
                    )
                ):
                    self._sync_started = True
                    if qp.type == PacketType.SNAP:
                        self._snapshot = _SnapshotReader(self.max_buffer)
        except JuteError as e:
            if not isinstance(e, QuorumProtocolError):
                e = QuorumProtocolError(str(e))
            self.error = e
            del buf[:]
            if not out:
                raise e from None
            return out  # what came before the bad bytes still counts; the next feed raises
        del buf[:pos]
        return out
