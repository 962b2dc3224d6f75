"""Drive the core without sockets: a fake transport, a fake clock, a tiny client.

``CoreClient`` speaks the jute protocol to a ``zkcompat.core.server.Connection``
in the same process; every frame the server sends is decoded and kept in
order (``events``), so tests assert on exactly what a real client would see.
"""

from __future__ import annotations

import struct

from protocol import messages, records
from protocol.codes import OpCode, Xid
from protocol.framing import FrameDecoder, frame
from zkcompat.core.clock import FakeClock
from zkcompat.core.config import ServerConfig
from zkcompat.core.server import ZooKeeperServer


class FakeTransport:
    def __init__(self):
        self.data = bytearray()
        self.closed = False

    def write(self, data):
        assert not self.closed, "write after close"
        self.data += data

    def close(self):
        self.closed = True


def make_server(**overrides) -> tuple[ZooKeeperServer, FakeClock]:
    config = ServerConfig(**overrides)
    clock = FakeClock()
    server = ZooKeeperServer(config, clock)
    server.start()
    return server, clock


class Reply:
    def __init__(self, xid, zxid, err, body):
        self.xid, self.zxid, self.err, self.body = xid, zxid, err, body

    def __repr__(self):
        return "Reply(xid=%d, zxid=%d, err=%d, body=%r)" % (self.xid, self.zxid, self.err, self.body)


class CoreClient:
    _port = 40000

    def __init__(self, server: ZooKeeperServer, ip: str = "127.0.0.1"):
        self.server = server
        self.transport = FakeTransport()
        CoreClient._port += 1
        self.conn = server.connection_made(self.transport, ip, CoreClient._port)
        self.decoder = FrameDecoder(1 << 30)
        self._read = 0
        self.xid = 0
        self.session_id = 0
        self.passwd = b""
        self.timeout = 0
        self._handshake_done = False
        self.events: list = []  # Reply or WatcherEvent, in arrival order

    # --- raw I/O ----------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.conn.data_received(data)
        self.server.flush()
        self._pump()

    def _pump(self):
        new = bytes(self.transport.data[self._read:])
        self._read = len(self.transport.data)
        for f in self.decoder.feed(new):
            if not self._handshake_done:
                resp, _ = messages.decode_connect_response(f)
                self._handshake_done = True
                self.session_id, self.passwd, self.timeout = resp.session_id, resp.passwd, resp.time_out
                self.events.append(resp)
                continue
            hdr, pos = records.ReplyHeader.decode(f, 0)
            body = f[pos:]
            if hdr.xid == Xid.NOTIFICATION:
                self.events.append(records.WatcherEvent.from_bytes(body))
            else:
                self.events.append(Reply(hdr.xid, hdr.zxid, hdr.err, body))

    @property
    def closed(self) -> bool:
        return self.transport.closed

    # --- protocol -------------------------------------------------------------------------
    def connect(self, timeout=10000, session_id=0, passwd=bytes(16), last_zxid=0, read_only=False):
        req = records.ConnectRequest(0, last_zxid, timeout, session_id, passwd)
        self.send_raw(frame(messages.encode_connect_request(req, read_only)))
        return self

    def request(self, op: int, rec=None, xid=None) -> int:
        if xid is None:
            self.xid += 1
            xid = self.xid
        body = rec.to_bytes() if rec is not None and hasattr(rec, "to_bytes") else (rec or b"")
        self.send_raw(frame(records.RequestHeader(xid, op).to_bytes() + body))
        return xid

    def replies(self):
        self._pump()
        return [e for e in self.events if isinstance(e, Reply)]

    def notifications(self):
        self._pump()
        return [e for e in self.events if isinstance(e, records.WatcherEvent)]

    def reply(self, xid) -> Reply:
        self._pump()
        for e in self.events:
            if isinstance(e, Reply) and e.xid == xid:
                return e
        raise AssertionError("no reply to xid %d in %r" % (xid, self.events))

    def call(self, op, rec=None, response_cls=None):
        """Send one request; return (err, decoded body or None)."""
        xid = self.request(op, rec)
        r = self.reply(xid)
        if r.err == 0 and response_cls is not None:
            return r.err, response_cls.from_bytes(r.body)
        return r.err, None

    # conveniences
    def create(self, path, data=b"", flags=0, acl=None, op=OpCode.CREATE):
        acl = acl if acl is not None else [records.ACL(31, records.Id("world", "anyone"))]
        cls = records.Create2Response if op != OpCode.CREATE else records.CreateResponse
        return self.call(op, records.CreateRequest(path, data, acl, flags), cls)

    def get_data(self, path, watch=False):
        return self.call(OpCode.GET_DATA, records.GetDataRequest(path, watch), records.GetDataResponse)

    def exists(self, path, watch=False):
        return self.call(OpCode.EXISTS, records.ExistsRequest(path, watch), records.ExistsResponse)

    def set_data(self, path, data, version=-1):
        return self.call(OpCode.SET_DATA, records.SetDataRequest(path, data, version), records.SetDataResponse)

    def delete(self, path, version=-1):
        return self.call(OpCode.DELETE, records.DeleteRequest(path, version))

    def children(self, path, watch=False):
        err, resp = self.call(OpCode.GET_CHILDREN, records.GetChildrenRequest(path, watch), records.GetChildrenResponse)
        return err, (resp.children if resp else None)

    def auth(self, scheme, data: bytes):
        self.send_raw(frame(records.RequestHeader(Xid.AUTH, OpCode.AUTH).to_bytes()
                            + records.AuthPacket(0, scheme, data).to_bytes()))
        return [e for e in self.events if isinstance(e, Reply) and e.xid == Xid.AUTH][-1]

    def multi(self, ops):
        xid = self.request(OpCode.MULTI, messages.encode_multi(ops))
        r = self.reply(xid)
        results, _ = messages.decode_multi_response(r.body, 0) if r.err == 0 and r.body else ([], 0)
        return r, results

    def close_session(self):
        return self.reply(self.request(OpCode.CLOSE_SESSION))


def be32(n: int) -> bytes:
    return struct.pack(">i", n)
