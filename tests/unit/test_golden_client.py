"""Golden bytes: a real ZooKeeper 3.8 conversation with kazoo decodes and re-encodes byte for byte.

golden/client/kazoo_session.json holds every frame (without its length prefix)
of one session, in order, as captured by a proxy between kazoo and Debian's
Apache ZooKeeper 3.8.0: connect, auth, creates (sequential, ephemeral, with a
digest ACL), getData with a watch and its notification, getChildren2, setData,
exists on a missing node, getACL, a failing and a succeeding multi, sync,
delete errors, deletes, pings and closeSession.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol import messages, records
from protocol.codes import OpCode, Xid

GOLDEN = Path(__file__).parent / "golden" / "client" / "kazoo_session.json"


def _frames():
    return [(direction, bytes.fromhex(h)) for direction, h in json.loads(GOLDEN.read_text())]


def _roundtrip_body(cls, body: bytes) -> None:
    if cls is None:
        assert body == b""
        return
    rec = cls.from_bytes(body)
    assert rec.to_bytes() == body, cls.name


def test_every_captured_frame_decodes_and_reencodes_identically():
    """Requests by opcode, replies by the opcode of the request with their xid, notifications, handshake."""
    frames = _frames()
    ops_by_xid: dict[int, int] = {}
    seen_ops = set()
    (d0, connect), (d1, accepted) = frames[0], frames[1]
    assert (d0, d1) == ("request", "reply")
    msg = messages.decode_connect_request(connect)
    assert messages.encode_connect_request(msg.request, msg.read_only) == connect
    resp, ro = messages.decode_connect_response(accepted)
    assert messages.encode_connect_response(resp, ro) == accepted and len(accepted) == 37
    for direction, data in frames[2:]:
        if direction == "request":
            hdr, pos = records.RequestHeader.decode(data, 0)
            assert hdr.to_bytes() == data[:8]
            body = data[pos:]
            ops_by_xid[hdr.xid] = hdr.type
            seen_ops.add(hdr.type)
            if hdr.type in (OpCode.MULTI, OpCode.MULTI_READ):
                ops, end = messages.decode_multi(body, 0)
                assert end == len(body) and messages.encode_multi(ops) == body
            else:
                _roundtrip_body(messages.REQUEST_RECORDS[hdr.type], body)
        else:
            hdr, pos = records.ReplyHeader.decode(data, 0)
            assert hdr.to_bytes() == data[:16]
            body = data[pos:]
            if hdr.xid == Xid.NOTIFICATION:
                _roundtrip_body(records.WatcherEvent, body)
                continue
            if hdr.xid in (Xid.PING, Xid.AUTH) or hdr.err != 0:
                assert body == b""
                continue
            op = ops_by_xid[hdr.xid]
            if op == OpCode.MULTI:
                results, end = messages.decode_multi_response(body, 0)
                assert end == len(body) and messages.encode_multi_response(results) == body
            else:
                _roundtrip_body(messages.RESPONSE_RECORDS[op], body)
    assert {OpCode.CREATE, OpCode.GET_DATA, OpCode.SET_DATA, OpCode.EXISTS, OpCode.GET_ACL, OpCode.MULTI,
            OpCode.SYNC, OpCode.DELETE, OpCode.GET_CHILDREN2, OpCode.AUTH, OpCode.CLOSE_SESSION} <= seen_ops
