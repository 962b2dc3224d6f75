"""protocol.quorum: QuorumPackets, their per-type data, the SNAP payload and the stream, against ZooKeeper 3.8.

The golden tests at the end decode streams recorded between real Apache
ZooKeeper servers (tests/compat/test_quorum_golden.py) and re-encode them byte
for byte.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import quorum as q
from protocol.codes import OpCode
from protocol.election import parse_config
from protocol.jute import JuteError
from protocol.records import (
    ACL,
    CloseSessionTxn,
    CreateSessionTxn,
    CreateTxn,
    CreateTxnV0,
    DeleteTxn,
    ErrorTxn,
    Id,
    LearnerInfo,
    MultiTxn,
    QuorumPacket,
    SetACLTxn,
    SetDataTxn,
    StatPersisted,
    Txn,
    TxnDigest,
    TxnHeader,
)
from tests.unit.test_jute_equivalence import record_strategy

P = q.PacketType
GOLDEN = Path(__file__).resolve().parent / "golden" / "quorum"
INT = st.integers(-(2**31), 2**31 - 1)
LONG = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF), max_size=12)
IDS = st.builds(Id, st.none() | TEXT, st.none() | TEXT)
PACKETS = st.builds(
    QuorumPacket,
    st.sampled_from(list(P)).map(int) | INT,
    LONG,
    st.none() | st.binary(max_size=40),
    st.none() | st.lists(IDS, max_size=3),
)
FUZZ = settings(max_examples=300, deadline=None)


# --- zxids --------------------------------------------------------------------------------


def test_zxid_helpers_match_zxidutils():
    assert q.make_zxid(1, 0) == 0x100000000
    assert q.make_zxid(5, 0x2A) == 0x50000002A
    assert q.epoch_of(0x50000002A) == 5 and q.counter_of(0x50000002A) == 0x2A
    assert q.epoch_of(-1) == -1 and q.counter_of(-1) == 0xFFFFFFFF  # the "no zxid" of UPTODATE/REQUEST
    assert q.make_zxid(-1, 0xFFFFFFFF) == -1
    assert q.make_zxid(0x80000000, 0) == -(1 << 63)  # Java's long wraps
    assert q.make_zxid(1, -1) == 0x1FFFFFFFF  # counter masked to 32 bits


@given(LONG)
def test_zxid_split_and_join_round_trip(zxid):
    assert q.make_zxid(q.epoch_of(zxid), q.counter_of(zxid)) == zxid


@given(INT, st.integers(0, 2**32 - 1))
def test_zxid_join_and_split_round_trip(epoch, counter):
    z = q.make_zxid(epoch, counter)
    assert (q.epoch_of(z), q.counter_of(z)) == (epoch, counter)


def test_packet_type_numbers_are_leader_java_constants():
    assert {t.name: t.value for t in P} == {
        "REQUEST": 1, "PROPOSAL": 2, "ACK": 3, "COMMIT": 4, "PING": 5, "REVALIDATE": 6, "SYNC": 7, "INFORM": 8,
        "COMMITANDACTIVATE": 9, "NEWLEADER": 10, "FOLLOWERINFO": 11, "UPTODATE": 12, "DIFF": 13, "TRUNC": 14,
        "SNAP": 15, "OBSERVERINFO": 16, "LEADERINFO": 17, "ACKEPOCH": 18, "INFORMANDACTIVATE": 19,
    }  # fmt: skip


# --- QuorumPacket -------------------------------------------------------------------------


def test_packet_bytes_have_no_outer_length_and_keep_null_apart_from_empty():
    assert q.encode_packet(q.ack_packet(0x100000003)) == (
        b"\x00\x00\x00\x03" + b"\x00\x00\x00\x01\x00\x00\x00\x03" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff"
    )
    empty = q.packet(P.PING, 7, b"", [])
    assert q.encode_packet(empty)[12:] == b"\x00\x00\x00\x00" * 2
    assert q.decode_packet(q.encode_packet(empty))[0] == empty
    assert q.decode_packet(q.encode_packet(q.ping_packet(7)))[0].data is None


@given(PACKETS)
def test_packet_round_trip(qp):
    raw = q.encode_packet(qp)
    got, end = q.decode_packet(raw)
    assert got == qp and end == len(raw)
    assert q.decode_packet(b"junk" + raw, 4) == (got, len(raw) + 4)


@given(PACKETS, st.data())
def test_truncated_packet_is_a_protocol_error(qp, data):
    raw = q.encode_packet(qp)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(q.QuorumProtocolError):
        q.decode_packet(raw[:cut])


def test_lengths_zookeeper_refuses():
    head = struct.pack(">iq", P.ACK, 1)
    for n in (-2, q.QUORUM_BUFFER_MAX_DEFAULT + 1):
        with pytest.raises(q.QuorumProtocolError, match="Unreasonable length"):
            q.decode_packet(head + struct.pack(">i", n) + b"\x00" * 16)
    # the limit is the archive's (jute.maxbuffer + extrasize); a smaller one refuses a 1000-byte buffer
    big = q.encode_packet(q.packet(P.PROPOSAL, 1, b"x" * 1000))
    assert q.decode_packet(big)[0].data == b"x" * 1000
    with pytest.raises(q.QuorumProtocolError):
        q.decode_packet(big, max_buffer=999)
    # an Id string is checked the same way
    bad_id = head + b"\xff\xff\xff\xff" + struct.pack(">ii", 1, -7)
    with pytest.raises(q.QuorumProtocolError):
        q.decode_packet(bad_id)


def test_negative_authinfo_count_reads_as_empty():
    """BinaryIndex.done() is nelems <= 0: -1 is null, -5 an empty vector."""
    raw = struct.pack(">iqii", P.ACK, 1, -1, -5)
    assert q.decode_packet(raw)[0].authinfo == []


@FUZZ
@given(st.binary(max_size=80))
def test_garbage_raises_only_protocol_errors(blob):
    try:
        q.decode_packet(blob)
    except q.QuorumProtocolError:
        pass
    for from_leader in (False, True):
        try:
            q.QuorumStreamDecoder(from_leader=from_leader).feed(blob)
        except q.QuorumProtocolError:
            pass


# --- the data of each packet type -------------------------------------------------------------


def _entries():
    hdr = TxnHeader(0x100000000ABC, 3, q.make_zxid(1, 5), 1700000000000, OpCode.CREATE)
    acl = [ACL(31, Id("world", "anyone"))]
    create = CreateTxn("/a", b"data", acl, False, 4)
    digest = TxnDigest(2, 0x1234)
    return hdr, create, digest


def test_proposal_carries_header_txn_and_digest():
    hdr, create, digest = _entries()
    qp = q.proposal_packet(q.TxnEntry(hdr, create, digest))
    assert qp.type == P.PROPOSAL and qp.zxid == hdr.zxid and qp.authinfo is None
    assert qp.data == hdr.to_bytes() + create.to_bytes() + digest.to_bytes()
    assert q.parse_proposal(qp) == q.TxnEntry(hdr, create, digest)
    no_digest = q.proposal_packet(q.TxnEntry(hdr, create))
    assert q.parse_proposal(no_digest).digest is None


TXN_SAMPLES = [
    (OpCode.CREATE_SESSION, CreateSessionTxn(30000)),
    (OpCode.CLOSE_SESSION, CloseSessionTxn(["/e1", "/e2"])),
    (OpCode.CREATE, CreateTxn("/n", None, [ACL(1, Id("ip", "10.0.0.1"))], True, 0)),
    (OpCode.CREATE2, CreateTxn("/n", b"", [], False, 1)),
    (OpCode.DELETE, DeleteTxn("/n")),
    (OpCode.DELETE_CONTAINER, DeleteTxn("/c")),
    (OpCode.SET_DATA, SetDataTxn("/n", b"v", 3)),
    (OpCode.RECONFIG, SetDataTxn("/zookeeper/config", b"server.1=...", -1)),
    (OpCode.SET_ACL, SetACLTxn("/n", [ACL(31, Id("world", "anyone"))], 1)),
    (OpCode.ERROR, ErrorTxn(-101)),
    (OpCode.MULTI, MultiTxn([Txn(OpCode.DELETE, DeleteTxn("/x").to_bytes()), Txn(-1, ErrorTxn(0).to_bytes())])),
]


@pytest.mark.parametrize("op, txn", TXN_SAMPLES, ids=[str(op) for op, _ in TXN_SAMPLES])
@pytest.mark.parametrize("with_digest", [False, True])
def test_every_txn_type_round_trips(op, txn, with_digest):
    hdr = TxnHeader(1, 2, q.make_zxid(3, 4), 5, op)
    digest = TxnDigest(2, -99) if with_digest else None
    data = q.encode_txn_entry(hdr, txn, digest)
    assert q.decode_txn_entry(data) == q.TxnEntry(hdr, txn, digest)


@given(record_strategy(TxnHeader), st.sampled_from(sorted(q.TXN_RECORDS)), st.data(), st.booleans())
def test_txn_entry_property(hdr, op, data, with_digest):
    hdr.type = op
    txn = data.draw(record_strategy(q.TXN_RECORDS[op]))
    digest = TxnDigest(2, data.draw(LONG)) if with_digest else None
    raw = q.encode_txn_entry(hdr, txn, digest)
    got = q.decode_txn_entry(raw)
    assert got.hdr == hdr and got.digest == digest
    assert q.encode_txn_entry(got.hdr, got.txn, got.digest) == raw


def test_txn_entry_old_forms_and_leniency():
    hdr, create, digest = _entries()
    # a pre-3.3 create (no parentCVersion) reads as CreateTxn with parentCVersion -1
    v0 = CreateTxnV0("/old", b"d", [], True)
    got = q.decode_txn_entry(hdr.to_bytes() + v0.to_bytes())
    assert got.txn == CreateTxn("/old", b"d", [], True, -1) and got.digest is None
    # a pre-3.6 closeSession has no body
    close = hdr.replace(type=OpCode.CLOSE_SESSION)
    assert q.decode_txn_entry(close.to_bytes()) == q.TxnEntry(close, None, None)
    # fewer than 12 trailing bytes: no digest; bytes after a digest: ignored (as SerializeUtils)
    base = hdr.to_bytes() + create.to_bytes()
    assert q.decode_txn_entry(base + b"\x00" * 11).digest is None
    assert q.decode_txn_entry(base + digest.to_bytes() + b"zz").digest == digest


def test_txn_entry_errors():
    hdr, _, _ = _entries()
    with pytest.raises(q.QuorumProtocolError, match="Unsupported Txn"):
        q.decode_txn_entry(hdr.replace(type=OpCode.CHECK).to_bytes())
    with pytest.raises(q.QuorumProtocolError):
        q.decode_txn_entry(hdr.to_bytes()[:20])
    with pytest.raises(q.QuorumProtocolError):
        q.decode_txn_entry(hdr.replace(type=OpCode.SET_DATA).to_bytes() + b"\x00\x00")
    with pytest.raises(q.QuorumProtocolError, match="data is null"):
        q.parse_proposal(q.packet(P.PROPOSAL, 1))
    with pytest.raises(q.QuorumProtocolError, match="expected PROPOSAL/INFORM"):
        q.parse_proposal(q.commit_packet(1))


def test_request_layout():
    auth = [Id("digest", "u:h"), Id("ip", "127.0.0.1")]
    req = q.LearnerRequest(0x1000A, 7, OpCode.CREATE, b"body", auth)
    qp = q.request_packet(req)
    assert qp.zxid == -1 and qp.authinfo == auth
    assert qp.data == struct.pack(">qii", 0x1000A, 7, OpCode.CREATE) + b"body"
    assert q.parse_request(qp) == req
    close = q.LearnerRequest(5, 9, OpCode.CLOSE_SESSION)
    assert q.parse_request(q.request_packet(close)) == close
    with pytest.raises(q.QuorumProtocolError):
        q.parse_request(q.packet(P.REQUEST, -1, b"\x00" * 15))


def test_inform_and_activate_layouts():
    hdr, create, digest = _entries()
    entry = q.TxnEntry(hdr, create, digest)
    inform = q.inform_packet(hdr.zxid, entry.to_bytes())
    assert inform.type == P.INFORM and q.parse_inform(inform) == entry
    ia = q.inform_and_activate_packet(hdr.zxid, 3, entry.to_bytes())
    assert ia.data[:8] == struct.pack(">q", 3)
    assert q.parse_inform_and_activate(ia) == (3, entry)
    ca = q.commit_and_activate_packet(hdr.zxid, 2)
    assert ca.data == struct.pack(">q", 2) and q.parse_commit_and_activate(ca) == 2
    for bad in (q.packet(P.INFORMANDACTIVATE, 1, b"1234567"), q.packet(P.COMMITANDACTIVATE, 1, b"")):
        with pytest.raises(q.QuorumProtocolError):
            (q.parse_inform_and_activate if bad.type == P.INFORMANDACTIVATE else q.parse_commit_and_activate)(bad)


def test_ping_both_directions():
    ping = q.ping_packet(0x100000009)
    assert ping.data is None and ping.authinfo is None
    reply = q.ping_reply_packet(ping, {0x100: 30000, 0x200: 4000})
    assert reply.type == P.PING and reply.zxid == ping.zxid
    assert reply.data == struct.pack(">qiqi", 0x100, 30000, 0x200, 4000)
    assert q.parse_ping_touches(reply) == [(0x100, 30000), (0x200, 4000)]
    assert q.parse_ping_touches(q.ping_reply_packet(ping, [])) == []
    for bad in (q.packet(P.PING, 1, b"\x00" * 13), ping):
        with pytest.raises(q.QuorumProtocolError):
            q.parse_ping_touches(bad)


def test_revalidate_both_directions():
    req = q.revalidate_packet(0x3000042CC130000, 10000)
    assert req.zxid == -1 and req.data == struct.pack(">qi", 0x3000042CC130000, 10000)
    assert q.parse_revalidate(req) == (0x3000042CC130000, 10000)
    reply = q.revalidate_reply_packet(req, 0x3000042CC130000, True)
    assert reply.zxid == -1 and reply.data == struct.pack(">q", 0x3000042CC130000) + b"\x01"
    assert q.parse_revalidate_reply(reply) == (0x3000042CC130000, True)
    assert q.parse_revalidate_reply(q.packet(P.REVALIDATE, -1, b"\x00" * 8 + b"\x07")) == (0, True)
    with pytest.raises(q.QuorumProtocolError):
        q.parse_revalidate(q.packet(P.REVALIDATE, -1, b"\x00" * 11))
    with pytest.raises(q.QuorumProtocolError):
        q.parse_revalidate_reply(q.packet(P.REVALIDATE, -1, b"\x00" * 8))


def test_handshake_packets():
    fi = q.learner_info_packet(P.FOLLOWERINFO, 4, 3, 0x100000000)
    assert fi.zxid == q.make_zxid(4, 0) and fi.data == LearnerInfo(3, 0x10000, 0x100000000).to_bytes()
    assert q.parse_learner_info(fi) == q.LearnerInfoData(P.FOLLOWERINFO, 4, 3, 0x10000, 0x100000000)
    oi = q.learner_info_packet(P.OBSERVERINFO, 0, 9, 0)
    assert q.parse_learner_info(oi).type == P.OBSERVERINFO
    with pytest.raises(ValueError):
        q.learner_info_packet(P.ACK, 0, 1, 0)
    li = q.leader_info_packet(5)
    assert li.zxid == 0x500000000 and li.data == b"\x00\x01\x00\x00"
    assert q.parse_leader_info(li) == (5, 0x10000)
    ae = q.ack_epoch_packet(4, 0x400000007)
    assert ae.data == b"\x00\x00\x00\x04" and q.parse_ack_epoch(ae) == (4, 0x400000007)
    assert q.parse_ack_epoch(q.ack_epoch_packet(-1, 0)) == (-1, 0)
    nl = q.new_leader_packet(5, b"server.1=a:1:2:participant\nversion=0")
    assert nl.zxid == 0x500000000 and q.parse_new_leader(nl) == (5, nl.data)
    assert q.parse_new_leader(q.new_leader_packet(5, None)) == (5, None)
    assert q.parse_new_leader(q.new_leader_packet(5, b"x")) == (5, None)  # "length > 1"
    for qp, t, z in (
        (q.diff_packet(7), P.DIFF, 7),
        (q.trunc_packet(8), P.TRUNC, 8),
        (q.snap_packet(9), P.SNAP, 9),
        (q.uptodate_packet(), P.UPTODATE, -1),
        (q.sync_packet(), P.SYNC, 0),
        (q.commit_packet(3), P.COMMIT, 3),
        (q.ack_packet(3), P.ACK, 3),
    ):
        assert (qp.type, qp.zxid, qp.data, qp.authinfo) == (t, z, None, None)
    for bad in (q.packet(P.LEADERINFO, 0, b"\x00"), q.packet(P.ACKEPOCH, 0, None)):
        with pytest.raises(q.QuorumProtocolError):
            (q.parse_leader_info if bad.type == P.LEADERINFO else q.parse_ack_epoch)(bad)


def test_learner_info_is_read_as_leniently_as_learnerhandler():
    def info(data):
        return q.parse_learner_info(q.packet(P.FOLLOWERINFO, q.make_zxid(2, 0), data))

    assert info(None) == q.LearnerInfoData(P.FOLLOWERINFO, 2, None, 0x1, None)
    assert info(struct.pack(">q", 7)) == q.LearnerInfoData(P.FOLLOWERINFO, 2, 7, 0x1, None)
    assert info(struct.pack(">qi", 7, 0x10000)) == q.LearnerInfoData(P.FOLLOWERINFO, 2, 7, 0x10000, None)
    assert info(b"\x01\x02") == q.LearnerInfoData(P.FOLLOWERINFO, 2, None, 0x1, None)


PARSERS = [
    q.parse_request, q.parse_proposal, q.parse_inform_and_activate, q.parse_commit_and_activate, q.parse_ping_touches,
    q.parse_revalidate, q.parse_revalidate_reply, q.parse_learner_info, q.parse_leader_info, q.parse_ack_epoch,
    q.parse_new_leader,
]  # fmt: skip


@FUZZ
@given(PACKETS, st.sampled_from(PARSERS))
def test_parsers_raise_only_protocol_errors(qp, parse):
    try:
        parse(qp)
    except q.QuorumProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=120))
def test_txn_entry_garbage_raises_only_protocol_errors(blob):
    try:
        q.decode_txn_entry(blob)
    except q.QuorumProtocolError:
        pass


# --- the SNAP payload --------------------------------------------------------------------------

STATS = record_strategy(StatPersisted)
PATHS = TEXT.filter(lambda p: p != "/")  # "/" ends the node list
NODES = st.lists(st.tuples(PATHS, st.builds(q.DataNode, st.none() | st.binary(max_size=10), LONG, STATS)), max_size=5)
ACLS = st.lists(st.builds(ACL, INT, IDS), max_size=3)
PAYLOADS = st.builds(
    q.SnapshotPayload,
    st.lists(st.tuples(LONG, INT), max_size=4),
    st.lists(st.tuples(LONG, ACLS), max_size=3),
    NODES,
)


def _small_payload():
    root = q.DataNode(b"", -1, StatPersisted(0, 0, 0, 0, 0, 2, 0, 0, 0))
    node = q.DataNode(b"v", 1, StatPersisted(5, 5, 10, 10, 0, 0, 0, 0x77, 5))
    return q.SnapshotPayload([(0x77, 30000)], [(1, [ACL(31, Id("world", "anyone"))])], [("", root), ("/a", node)])


def test_snapshot_payload_layout():
    p = _small_payload()
    raw = q.encode_snapshot_payload(p)
    assert raw.startswith(struct.pack(">iqi", 1, 0x77, 30000) + struct.pack(">iqi", 1, 1, 1))
    assert raw.endswith(b"\x00\x00\x00\x01/" + b"\x00\x00\x00\x0aBenWasHere")
    assert q.decode_snapshot_payload(raw) == (p, len(raw))


@given(PAYLOADS)
def test_snapshot_payload_round_trip(p):
    raw = q.encode_snapshot_payload(p)
    assert q.decode_snapshot_payload(raw) == (p, len(raw))


@given(PAYLOADS, st.data())
def test_truncated_snapshot_is_a_protocol_error(p, data):
    raw = q.encode_snapshot_payload(p)
    with pytest.raises(q.QuorumProtocolError):
        q.decode_snapshot_payload(raw[: data.draw(st.integers(0, len(raw) - 1))])


def test_snapshot_payload_errors():
    raw = q.encode_snapshot_payload(_small_payload())
    with pytest.raises(q.QuorumProtocolError, match="Missing signature"):
        q.decode_snapshot_payload(raw.replace(b"BenWasHere", b"BenWasGone"))
    with pytest.raises(q.QuorumProtocolError, match="missing acls"):
        q.decode_snapshot_payload(struct.pack(">iiqi", 0, 1, 1, -1))
    with pytest.raises(q.QuorumProtocolError, match="null node path"):
        q.decode_snapshot_payload(struct.pack(">iii", 0, 0, -1))
    with pytest.raises(q.QuorumProtocolError, match="Unreasonable length"):
        q.decode_snapshot_payload(struct.pack(">iii", 0, 0, 1 << 30))
    # negative counts read as none (ZooKeeper's "while (count > 0)")
    tail = struct.pack(">i", 1) + b"/" + struct.pack(">i", 10) + b"BenWasHere"
    assert q.decode_snapshot_payload(struct.pack(">ii", -3, -1) + tail)[0] == q.SnapshotPayload()


# --- the stream ----------------------------------------------------------------------------------


def _leader_stream():
    hdr, create, digest = _entries()
    items = [
        q.leader_info_packet(1),
        q.snap_packet(q.make_zxid(0, 9)),
        _small_payload(),
        q.proposal_packet(q.TxnEntry(hdr, create, digest)),
        q.commit_packet(hdr.zxid),
        q.new_leader_packet(1, b"server.1=127.0.0.1:2888:3888:participant\nversion=0"),
        q.uptodate_packet(),
        q.ping_packet(hdr.zxid),
        q.snap_packet(5),  # a SNAP after the sync started carries no snapshot
        q.revalidate_reply_packet(q.revalidate_packet(3, 4000), 3, False),
    ]
    return items, b"".join(_encode(it) for it in items)


def _encode(it):
    return q.encode_snapshot_payload(it) if isinstance(it, q.SnapshotPayload) else q.encode_packet(it)


def test_stream_split_at_every_byte():
    items, raw = _leader_stream()
    for cut in range(len(raw) + 1):
        dec = q.QuorumStreamDecoder(from_leader=True)
        got = dec.feed(raw[:cut])
        got += dec.feed(raw[cut:])
        assert got == items and dec.buffered_bytes == 0


def test_stream_one_byte_at_a_time():
    items, raw = _leader_stream()
    dec = q.QuorumStreamDecoder(from_leader=True)
    got = []
    for i in range(len(raw)):
        got += dec.feed(raw[i : i + 1])
    assert got == items


def test_in_snapshot_between_snap_and_its_payload():
    items, raw = _leader_stream()
    snap_end = len(q.encode_packet(items[0])) + len(q.encode_packet(items[1]))
    dec = q.QuorumStreamDecoder(from_leader=True)
    assert dec.feed(raw[:snap_end]) == items[:2] and dec.in_snapshot
    assert dec.feed(raw[snap_end:])[0] == items[2] and not dec.in_snapshot


def test_only_the_leaders_stream_carries_a_snapshot():
    """From a learner, SNAP (which no learner sends) is just a packet; so is a leader's SNAP after DIFF."""
    stream = q.encode_packet(q.snap_packet(1)) + q.encode_packet(q.ack_packet(2))
    assert q.QuorumStreamDecoder(from_leader=False).feed(stream) == [q.snap_packet(1), q.ack_packet(2)]
    diff_first = q.encode_packet(q.diff_packet(0)) + stream
    assert len(q.QuorumStreamDecoder(from_leader=True).feed(diff_first)) == 3


@given(st.lists(PACKETS, max_size=6), st.lists(st.integers(1, 50), max_size=30))
def test_stream_property(packets, chunks):
    packets = [p for p in packets if p.type not in (P.DIFF, P.TRUNC, P.SNAP)]
    raw = b"".join(q.encode_packet(p) for p in packets)
    dec = q.QuorumStreamDecoder(from_leader=True)
    got, pos = [], 0
    for n in chunks + [len(raw)]:
        got += dec.feed(raw[pos : pos + n])
        pos += n
    assert got == packets and dec.buffered_bytes == 0


def test_stream_error_keeps_earlier_packets_then_stays_failed():
    good = q.encode_packet(q.ack_packet(1))
    bad = struct.pack(">iqi", P.ACK, 2, -9)
    dec = q.QuorumStreamDecoder(from_leader=False)
    assert dec.feed(good + bad) == [q.ack_packet(1)]
    assert isinstance(dec.error, q.QuorumProtocolError) and isinstance(dec.error, JuteError)
    with pytest.raises(q.QuorumProtocolError):
        dec.feed(good)
    with pytest.raises(q.QuorumProtocolError):
        q.QuorumStreamDecoder(from_leader=False).feed(bad)


# --- golden streams recorded between real ZooKeeper servers ------------------------------------

MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
QUORUM_FILES = sorted(n for n, m in MANIFEST.items() if m["channel"] == "quorum")


def _golden(name):
    meta = MANIFEST[name]
    data = (GOLDEN / name).read_bytes()
    dec = q.QuorumStreamDecoder(from_leader=meta["from_leader"])
    items = dec.feed(data)
    assert dec.buffered_bytes == 0
    return meta, data, items


@pytest.mark.parametrize("name", QUORUM_FILES)
def test_golden_stream_reencodes_exactly(name):
    meta, data, items = _golden(name)
    assert b"".join(_encode(it) for it in items) == data
    # fed in odd-sized chunks, the same items
    dec = q.QuorumStreamDecoder(from_leader=meta["from_leader"])
    got = []
    for i in range(0, len(data), 7):
        got += dec.feed(data[i : i + 7])
    assert got == items


@pytest.mark.parametrize("name", QUORUM_FILES)
def test_golden_packet_data_parses_and_rebuilds(name):
    meta, _, items = _golden(name)
    for it in items:
        if isinstance(it, q.SnapshotPayload):
            continue
        raw = q.encode_packet(it)
        t = it.type
        if t == P.REQUEST:
            rebuilt = q.request_packet(q.parse_request(it))
        elif t in (P.PROPOSAL, P.INFORM):
            entry = q.parse_proposal(it)
            assert entry.hdr.zxid == it.zxid and entry.digest is not None and entry.digest.version == 2
            rebuilt = q.packet(t, it.zxid, entry.to_bytes())
        elif t == P.PING and meta["from_leader"]:
            rebuilt = q.ping_packet(it.zxid)
        elif t == P.PING:
            rebuilt = q.ping_reply_packet(q.ping_packet(it.zxid), q.parse_ping_touches(it))
        elif t == P.REVALIDATE and meta["from_leader"]:
            sid, valid = q.parse_revalidate_reply(it)
            assert valid
            rebuilt = q.revalidate_reply_packet(q.revalidate_packet(sid, 0), sid, valid)
        elif t == P.REVALIDATE:
            rebuilt = q.revalidate_packet(*q.parse_revalidate(it))
        elif t in (P.FOLLOWERINFO, P.OBSERVERINFO):
            info = q.parse_learner_info(it)
            assert (info.sid, info.protocol_version, info.config_version) == (meta["learner"], 0x10000, 0)
            rebuilt = q.learner_info_packet(t, info.accepted_epoch, info.sid, info.config_version)
        elif t == P.LEADERINFO:
            rebuilt = q.leader_info_packet(*q.parse_leader_info(it))
        elif t == P.ACKEPOCH:
            rebuilt = q.ack_epoch_packet(*q.parse_ack_epoch(it))
        elif t == P.NEWLEADER:
            epoch, config = q.parse_new_leader(it)
            assert parse_config(config)[1] == 0
            rebuilt = q.new_leader_packet(epoch, config)
        else:
            rebuilt = q.packet(t, it.zxid)
            assert t in (P.ACK, P.COMMIT, P.DIFF, P.SNAP, P.UPTODATE, P.SYNC)
        assert q.encode_packet(rebuilt) == raw, (P(t).name, it)


def _kinds(items):
    return [P(i.type) if isinstance(i, QuorumPacket) else "SNAPSHOT" for i in items if getattr(i, "type", 0) != P.PING]


def test_golden_handshakes():
    """FOLLOWERINFO|OBSERVERINFO, LEADERINFO, ACKEPOCH, DIFF|SNAP+body, NEWLEADER, ACK, UPTODATE, ACK."""
    for role, sync in (
        ("follower1", [P.DIFF]),
        ("follower3", [P.SNAP, "SNAPSHOT"]),
        ("observer4", [P.SNAP, "SNAPSHOT"]),
    ):
        _, _, up = _golden("quorum_%s_to_leader.bin" % role)
        _, _, down = _golden("quorum_leader_to_%s.bin" % role)
        first = P.OBSERVERINFO if role.startswith("observer") else P.FOLLOWERINFO
        assert _kinds(up)[:4] == [first, P.ACKEPOCH, P.ACK, P.ACK]
        assert _kinds(down)[: 3 + len(sync)] == [P.LEADERINFO, *sync, P.NEWLEADER, P.UPTODATE]
        epoch, version = q.parse_leader_info(down[0])
        assert (epoch, version) == (1, 0x10000)
        assert q.parse_ack_epoch(up[1]) == (0, 0)  # a fresh learner: current epoch 0, last zxid 0
        assert up[2].zxid == up[3].zxid == q.make_zxid(epoch, 0)
        newleader = next(i for i in down if getattr(i, "type", None) == P.NEWLEADER)
        assert newleader.zxid == q.make_zxid(epoch, 0)


def test_golden_broadcast_content():
    _, _, up = _golden("quorum_follower1_to_leader.bin")
    _, _, down = _golden("quorum_leader_to_follower1.bin")
    requests = [q.parse_request(i) for i in up if i.type == P.REQUEST]
    assert requests[0].type == OpCode.CREATE_SESSION and requests[0].authinfo is None
    assert struct.unpack(">i", requests[0].request) == (10000,)  # the session timeout
    assert {r.type for r in requests} >= {OpCode.CREATE, OpCode.SET_DATA, OpCode.MULTI, OpCode.DELETE, OpCode.SYNC}
    assert requests[-1].type == OpCode.CLOSE_SESSION and requests[-1].request == b""
    assert any(a.scheme == "digest" for a in requests[1].authinfo)
    # every PROPOSAL is followed (eventually) by its COMMIT, and the follower ACKs each
    proposals = [i.zxid for i in down if i.type == P.PROPOSAL]
    commits = [i.zxid for i in down if i.type == P.COMMIT]
    acks = [i.zxid for i in up if i.type == P.ACK][2:]
    assert proposals == commits == acks == sorted(proposals)
    assert proposals == [q.make_zxid(1, n) for n in range(1, len(proposals) + 1)]
    entries = [q.parse_proposal(i) for i in down if i.type == P.PROPOSAL]
    assert {e.hdr.type for e in entries} >= {OpCode.CREATE_SESSION, OpCode.CREATE, OpCode.MULTI, OpCode.CLOSE_SESSION}
    assert any(i.type == P.SYNC and i.zxid == 0 for i in down)
    reval = next(i for i in up if i.type == P.REVALIDATE)
    reply = next(i for i in down if i.type == P.REVALIDATE)
    sid, timeout = q.parse_revalidate(reval)
    assert q.parse_revalidate_reply(reply) == (sid, True) and timeout == 10000
    assert any(q.parse_ping_touches(i) for i in up if i.type == P.PING)


def test_golden_snapshot_payload():
    _, _, down = _golden("quorum_leader_to_follower3.bin")
    snap_at = next(n for n, i in enumerate(down) if getattr(i, "type", None) == P.SNAP)
    payload = down[snap_at + 1]
    assert isinstance(payload, q.SnapshotPayload) and payload.signature == "BenWasHere"
    paths = [p for p, _ in payload.nodes]
    assert paths[0] == "" and {"/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/golden/acl"} <= set(paths)
    nodes = dict(payload.nodes)
    acls = dict(payload.acls)
    assert acls[nodes["/golden/acl"].acl][0].id.scheme == "digest"
    assert nodes[""].acl == -1  # OPEN_ACL_UNSAFE, not in the cache
    eph = nodes["/golden/eph"].stat.ephemeral_owner
    assert (eph, 10000) in payload.sessions
    # SNAP's zxid is the leader's last processed zxid: here a delete, seen in its parent's pzxid
    assert down[snap_at].zxid == max(max(n.stat.mzxid, n.stat.pzxid) for n in nodes.values())


@FUZZ
@given(st.data())
def test_mutated_streams_raise_only_protocol_errors(data):
    """Valid streams with a few bytes changed, fed in chunks: items or QuorumProtocolError, nothing else."""
    items, raw = _leader_stream()
    payload_at = len(q.encode_packet(items[0])) + len(q.encode_packet(items[1]))
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    dec = q.QuorumStreamDecoder(from_leader=True)
    step = data.draw(st.integers(1, 64))
    try:
        for i in range(0, len(raw), step):
            dec.feed(bytes(raw[i : i + step]))
    except q.QuorumProtocolError:
        pass
    try:
        q.decode_snapshot_payload(bytes(raw), payload_at)
    except q.QuorumProtocolError:
        pass
