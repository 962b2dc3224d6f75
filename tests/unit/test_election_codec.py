"""protocol.election: the initial message, framing and notifications of the election channel, against ZooKeeper 3.8.

The golden tests at the end decode election connections recorded between real
Apache ZooKeeper servers (tests/compat/test_quorum_golden.py).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import election as e
from protocol.quorum import make_zxid

GOLDEN = Path(__file__).resolve().parent / "golden" / "quorum"
LONG = st.integers(-(2**63), 2**63 - 1)
INT = st.integers(-(2**31), 2**31 - 1)
PORT = st.integers(0, 65535)
HOSTS = st.sampled_from(["127.0.0.1", "10.1.2.3", "zk1.example.com", "::1", "fe80::1", "localhost"])
ADDRS = st.lists(st.tuples(HOSTS, PORT), min_size=1, max_size=4)
STATES = st.sampled_from(list(e.ServerState))
NOTIFICATIONS = st.builds(
    e.Notification, STATES, LONG, LONG, LONG, LONG, st.integers(2, 2**31 - 1), st.binary(max_size=200)
)
FUZZ = settings(max_examples=300, deadline=None)


# --- the initial message -----------------------------------------------------------------------


def test_initial_message_v1_bytes():
    msg = e.InitialMessage(3, (("127.0.0.1", 3888),))
    raw = msg.to_bytes()
    assert raw == struct.pack(">qqi", -65536, 3, 14) + b"127.0.0.1:3888"
    assert e.decode_initial_message(raw) == (msg, len(raw))


def test_initial_message_v2_and_ipv6():
    msg = e.InitialMessage(7, (("::1", 3888), ("10.0.0.7", 3889)), e.PROTOCOL_VERSION_V2)
    raw = msg.to_bytes()
    assert raw[:8] == struct.pack(">q", -65535) and raw.endswith(b"[::1]:3888|10.0.0.7:3889")
    assert e.decode_initial_message(raw) == (msg, len(raw))
    with pytest.raises(ValueError):
        e.InitialMessage(7, (("a", 1), ("b", 2))).to_bytes()  # V1 has exactly one address


def test_legacy_initial_message_is_just_the_sid():
    raw = e.InitialMessage(5, (), None).to_bytes()
    assert raw == struct.pack(">q", 5)
    assert e.decode_initial_message(raw + b"more") == (e.InitialMessage(5, (), None), 8)


@given(LONG, ADDRS, st.sampled_from([e.PROTOCOL_VERSION_V1, e.PROTOCOL_VERSION_V2]))
def test_initial_message_round_trip(sid, addrs, version):
    if version == e.PROTOCOL_VERSION_V1:
        addrs = addrs[:1]
    msg = e.InitialMessage(sid, tuple(addrs), version)
    raw = msg.to_bytes()
    assert e.decode_initial_message(raw) == (msg, len(raw))
    for cut in range(len(raw)):
        assert e.decode_initial_message(raw[:cut]) is None  # incomplete: wait for more


def _v1(addr: bytes, length: int | None = None) -> bytes:
    return struct.pack(">qqi", -65536, 2, len(addr) if length is None else length) + addr


@pytest.mark.parametrize(
    "raw, message",
    [
        (struct.pack(">qq", -1, 2), "unrecognized protocol version"),
        (struct.pack(">qq", -65537, 2), "unrecognized protocol version"),
        (_v1(b"", 0), "Unreasonable buffer length"),
        (_v1(b"", -1), "Unreasonable buffer length"),
        (_v1(b"", 2049), "Unreasonable buffer length"),
        (_v1(b"host"), "Badly formed"),
        (_v1(b"host:"), "Badly formed"),
        (_v1(b"h:1:2"), "Badly formed"),
        (_v1(b"::1:3888"), "Badly formed"),
        (_v1(b"[::1]"), "Badly formed"),
        (_v1(b"[::1]:"), "Badly formed"),
        (_v1(b"[::1:3888"), "Badly formed"),
        (_v1(b"h:port"), "Bad port number"),
        (_v1(b"h:99999999999"), "Bad port number"),
        (_v1(b"h:65536"), "port out of range"),
        (_v1(b"h:-1"), "port out of range"),
    ],
)
def test_initial_message_refused(raw, message):
    with pytest.raises(e.ElectionFrameError, match=message):
        e.decode_initial_message(raw)


def test_address_parsing_follows_java():
    assert e.parse_addresses("h:+12") == [("h", 12)]  # Integer.parseInt takes a sign
    assert e.parse_addresses("a:1|") == [("a", 1)]  # String.split drops trailing empties
    assert e.parse_addresses("|") == []
    assert e.parse_addresses("[fe80::1]:7") == [("fe80::1", 7)]
    assert e.decode_initial_message(_v1(b"|"))[0].addresses == ()
    msg = e.decode_initial_message(_v1(b"0.0.0.0:3888|[::]:3888|127.0.0.1:3888"))[0]
    assert msg.election_addresses == (("127.0.0.1", 3888),)  # wildcards are not connected back to
    assert len(msg.addresses) == 3


def test_format_address_is_netutils():
    assert e.format_address("127.0.0.1", 1) == "127.0.0.1:1"
    assert e.format_address("::1", 2) == "[::1]:2"
    assert e.format_address("zk.example", 3) == "zk.example:3"


def test_the_challenge():
    """Only a connection opened by the larger sid survives."""
    assert e.connection_survives(3, 1)
    assert not e.connection_survives(1, 3)
    assert not e.connection_survives(2, 2)


# --- notifications ---------------------------------------------------------------------------------


def test_notification_layout():
    n = e.Notification(e.ServerState.LOOKING, 3, make_zxid(1, 7), 2, 1, 2, b"version=0")
    raw = n.to_bytes()
    assert raw == struct.pack(">iqqqqii", 0, 3, 0x100000007, 2, 1, 2, 9) + b"version=0"
    assert len(raw) == 44 + 9
    assert e.decode_notification(raw) == n


@given(NOTIFICATIONS)
def test_notification_round_trip(n):
    raw = e.encode_notification(n)
    assert e.decode_notification(raw) == n
    assert e.decode_notification(raw + b"trailing bytes are ignored") == n


def test_older_layouts():
    zxid = make_zxid(5, 3)
    # 28 bytes (before ZOOKEEPER-107): no peer epoch; it is the zxid's epoch
    n28 = e.decode_notification(struct.pack(">iqqq", 2, 1, zxid, 4))
    assert n28 == e.Notification(e.ServerState.LEADING, 1, zxid, 4, 5, 0, None)
    # 40 bytes (3.4.x): the version int is not read
    n40 = e.decode_notification(struct.pack(">iqqqqi", 1, 1, zxid, 4, 6, 1))
    assert n40 == e.Notification(e.ServerState.FOLLOWING, 1, zxid, 4, 6, 0, None)
    assert e.encode_notification(e.Notification(1, 1, zxid, 4, 6, 1, None)) == struct.pack(
        ">iqqqqi", 1, 1, zxid, 4, 6, 1
    )
    # longer, version <= 1: no config, the rest ignored
    n1 = e.decode_notification(struct.pack(">iqqqqi", 0, 1, zxid, 4, 6, 1) + b"\x00\x00\x00\x05")
    assert (n1.version, n1.config) == (1, None)


def test_unknown_state_is_kept():
    raw = struct.pack(">iqqqqii", 9, 1, 0, 1, 0, 2, 0)
    n = e.decode_notification(raw)
    assert n.state == 9 and not isinstance(n.state, e.ServerState)
    assert n.to_bytes() == raw


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00" * 27, "short"),
        (b"\x00" * 29, "partial"),
        (b"\x00" * 35, "partial"),
        (b"\x00" * 36, "partial"),
        (b"\x00" * 39, "partial"),
        (struct.pack(">iqqqqi", 0, 1, 0, 1, 0, 2) + b"\x00\x00", "no config length"),
        (struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, -1), "Invalid configLength"),
        (struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 45), "Invalid configLength"),
        (struct.pack(">iqqqqii", 0, 1, 0, 1, 0, 2, 10) + b"short", "partial"),
    ],
)
def test_malformed_notifications_are_dropped(raw, message):
    with pytest.raises(e.NotificationError, match=message):
        e.decode_notification(raw)


@FUZZ
@given(st.binary(max_size=100))
def test_garbage_raises_only_election_errors(blob):
    try:
        e.decode_notification(blob)
    except e.NotificationError:
        pass
    try:
        e.decode_initial_message(blob)
    except e.ElectionFrameError:
        pass
    for initial in (True, False):
        try:
            e.ElectionStreamDecoder(initial_message=initial).feed(blob)
        except e.ElectionFrameError:
            pass


# --- the stream -------------------------------------------------------------------------------------


def test_stream_split_at_every_byte():
    init = e.InitialMessage(4, (("127.0.0.1", 3890),))
    n1 = e.Notification(e.ServerState.LOOKING, 4, 0, 1, 0, 2, b"version=0").to_bytes()
    n2 = e.Notification(e.ServerState.OBSERVING, 2, 5, 1, 1, 2, b"").to_bytes()
    raw = init.to_bytes() + e.frame_message(n1) + e.frame_message(n2)
    for cut in range(len(raw) + 1):
        dec = e.ElectionStreamDecoder(initial_message=True)
        got = dec.feed(raw[:cut]) + dec.feed(raw[cut:])
        assert got == [init, n1, n2] and dec.initial == init and dec.buffered_bytes == 0
    reply = e.ElectionStreamDecoder(initial_message=False)
    assert reply.feed(e.frame_message(n2)) == [n2]


@pytest.mark.parametrize("length", [0, -1, e.PACKET_MAX_SIZE + 1])
def test_frame_lengths_zookeeper_refuses(length):
    good = e.frame_message(b"x" * 28)
    dec = e.ElectionStreamDecoder(initial_message=False)
    assert dec.feed(good + struct.pack(">i", length)) == [b"x" * 28]
    with pytest.raises(e.ElectionFrameError, match="invalid packet"):
        dec.feed(good)
    with pytest.raises(e.ElectionFrameError):
        e.ElectionStreamDecoder(initial_message=False).feed(struct.pack(">i", length))


def test_largest_frame_is_accepted():
    body = b"\x00" * e.PACKET_MAX_SIZE
    assert e.ElectionStreamDecoder(initial_message=False).feed(e.frame_message(body)) == [body]


def test_bad_initial_message_fails_the_stream():
    dec = e.ElectionStreamDecoder(initial_message=True)
    with pytest.raises(e.ElectionFrameError):
        dec.feed(struct.pack(">qq", -3, 1))
    with pytest.raises(e.ElectionFrameError):
        dec.feed(b"")


# --- config --------------------------------------------------------------------------------------


def test_config_format_and_parse():
    servers = {1: "127.0.0.1:2888:3888:participant", 4: "127.0.0.1:2891:3891:observer"}
    data = e.format_config(servers, 0x100000003)
    assert data == (
        b"server.1=127.0.0.1:2888:3888:participant\nserver.4=127.0.0.1:2891:3891:observer\nversion=100000003"
    )
    assert e.parse_config(data) == (servers, 0x100000003)
    assert e.parse_config(b"") == ({}, None)


# --- golden connections recorded between real ZooKeeper servers ----------------------------------

MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
ELECTION_FILES = sorted(n for n, m in MANIFEST.items() if m["channel"] == "election")


@pytest.mark.parametrize("name", ELECTION_FILES)
def test_golden_election_stream_reencodes_exactly(name):
    meta = MANIFEST[name]
    data = (GOLDEN / name).read_bytes()
    dec = e.ElectionStreamDecoder(initial_message=meta["initial_message"])
    items = dec.feed(data)
    assert dec.buffered_bytes == 0
    out = []
    for it in items:
        if isinstance(it, e.InitialMessage):
            assert it.sid == meta["connector"] and it.election_addresses == it.addresses
            assert it.addresses[0][0] == "127.0.0.1"
            out.append(it.to_bytes())
            continue
        n = e.decode_notification(it)
        assert n.to_bytes() == it and n.version == e.NOTIFICATION_VERSION
        servers, version = e.parse_config(n.config)
        assert version == 0 and sorted(servers) == [1, 2, 3, 4]
        assert servers[4].endswith(":observer") and servers[1].endswith(":participant")
        assert e.format_config(servers, version) == n.config
        out.append(e.frame_message(it))
    assert b"".join(out) == data
    if meta["initial_message"]:
        assert isinstance(items[0], e.InitialMessage)
        v2 = meta["connector"] == 4  # the observer runs with multiAddress.enabled
        assert items[0].protocol_version == (e.PROTOCOL_VERSION_V2 if v2 else e.PROTOCOL_VERSION_V1)


def test_golden_votes():
    def notes(name):
        dec = e.ElectionStreamDecoder(initial_message=MANIFEST[name]["initial_message"])
        return [e.decode_notification(i) for i in dec.feed((GOLDEN / name).read_bytes()) if isinstance(i, bytes)]

    # server 2, looking, votes for itself in round 1; the observer votes for no one (Long.MIN_VALUE)
    first = notes("election_v1_sid2_to_sid1_connector.bin")[0]
    assert (first.state, first.leader, first.zxid, first.election_epoch, first.peer_epoch) == (
        e.ServerState.LOOKING,
        2,
        0,
        1,
        0,
    )
    observer = notes("election_v2_sid4_to_sid2_connector.bin")[0]
    assert observer.state == e.ServerState.LOOKING and observer.leader == observer.zxid == -(2**63)
    # the leader answers a looking peer with its final vote: LEADING, leader 2, epoch 1
    answer = notes("election_v2_sid4_to_sid2_acceptor.bin")[0]
    assert (answer.state, answer.leader, answer.peer_epoch) == (e.ServerState.LEADING, 2, 1)


@FUZZ
@given(st.data())
def test_mutated_streams_raise_only_election_errors(data):
    init = e.InitialMessage(4, (("127.0.0.1", 3890), ("::1", 3890)), e.PROTOCOL_VERSION_V2)
    n1 = e.Notification(e.ServerState.LOOKING, 4, 0, 1, 0, 2, b"server.1=127.0.0.1:1:2:participant\nversion=0")
    raw = bytearray(init.to_bytes() + e.frame_message(n1.to_bytes()) * 2)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    dec = e.ElectionStreamDecoder(initial_message=True)
    step = data.draw(st.integers(1, 40))
    try:
        for i in range(0, len(raw), step):
            for item in dec.feed(bytes(raw[i : i + step])):
                if isinstance(item, bytes):
                    try:
                        e.decode_notification(item)
                    except e.NotificationError:
                        pass
    except e.ElectionFrameError:
        pass
