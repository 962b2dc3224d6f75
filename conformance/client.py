"""A minimal wire-level ZooKeeper client that records every frame the server sends.

Theory of operation
-------------------
A ``Connection`` is one TCP connection, driven with plain blocking sockets.  It
never interprets the protocol for the caller: it sends exactly the bytes it is
asked to (a ConnectRequest with or without the readOnly byte, a request with any
xid and opcode, raw frames, raw bytes that are not even framed), and it records
what comes back as ``Event``\\s in a ``Transcript`` shared by all connections of
one scenario.

Recording is *pull-driven*, which is what makes a transcript deterministic:
frames that arrive are buffered, and a frame becomes an event only when the
scenario consumes it, by waiting for something (``wait_reply``,
``wait_notification``, ``wait_close``, ``barrier``...).  Waiting consumes the
connection's frames in stream order, recording each, up to and including the one
waited for; later frames stay buffered.  The order of events of one connection is
therefore the server's byte order, and the interleaving of several connections is
fixed by the scenario's code, never by thread or network timing.

Each received frame is decoded by what it answers:

- the first frame after our ConnectRequest is a ConnectResponse (with its
  optional trailing readOnly byte, recorded as ``read_only: None`` when absent);
- every other frame is a ReplyHeader and a body; xid -1 is a notification
  (WatcherEvent); any other xid is matched with the request we sent with that xid
  (FIFO when xids repeat) and its body is decoded with that opcode's response
  record; an unanswered ping xid (-2) is still decoded as a ping;
- a body that does not decode exactly (short, trailing bytes, or bytes that do not
  re-encode identically, such as a boolean byte 2 or invalid UTF-8) is recorded
  as raw hex, so every byte the server sent is either in a decoded field or in a
  hex string: nothing is dropped before comparison.

The end of the stream is recorded as a ``closed`` event (with any unframed
trailing bytes); a wait that gives up records a ``timeout`` event naming what it
waited for, so a missing reply is a difference like any other rather than a crash.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from protocol import messages, records as r
from protocol.codes import Err, EventType, KeeperState, OpCode, Xid
from protocol.framing import FrameDecoder, FrameError, frame
from protocol.jute import JuteError, JuteRecord

DEFAULT_WAIT_S = 5.0
# How long a "nothing more arrives" check waits.  Short and bounded: it only
# catches frames the server has already sent or sends promptly.
QUIET_WAIT_S = 0.3

_REPLY_HEADER_LEN = 16


@dataclass
class Event:
    """One thing observed on a connection: a frame, the end of the stream, a timeout, or a note."""

    kind: str  # connect_response | reply | notification | closed | timeout | note | 4lw | admin | error
    conn: str
    fields: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return "%s %s %s" % (self.conn, self.kind, ", ".join("%s=%s" % (k, _short(v)) for k, v in self.fields.items()))


def _short(v, limit: int = 80) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


class Transcript:
    """The ordered events of one scenario on one server, plus the wall-clock window it ran in."""

    def __init__(self):
        self.events: list[Event] = []
        self.started_ms = int(time.time() * 1000)
        self.ended_ms: int | None = None
        self.note_traceback: str | None = None

    def add(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def note(self, key: str, value: Any, conn: str = "-") -> Event:
        return self.add(Event("note", conn, {"key": key, "value": value}))


def four_letter_word_raw(host: str, port: int, cmd: bytes, timeout_s: float = DEFAULT_WAIT_S) -> str:
    """Send ``cmd`` on a fresh connection and return everything until the server closes.

    A server that keeps the connection open past ``timeout_s`` yields what it sent
    plus a "<no close>" marker, so a hang is a visible difference, not a stall.
    """
    chunks = []
    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, port), timeout=timeout_s) as s:
        s.sendall(cmd)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                chunks.append(b"<no close>")
                break
            s.settimeout(remaining)
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def admin_get(
    host: str, port: int, command_url: str, command: str, query: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_WAIT_S,
) -> tuple[int | str, str | None, str]:
    """GET ``http://host:port<command_url>/<command>?<query>``: (status, content type, body text).

    An error status is an answer like any other; a connection that fails or times
    out yields the failure's name as the status, so it is a difference, not a crash.
    """
    # "" is the command URL itself; a command starting with "/" is appended as it is
    path = "/" + command_url.strip("/") + (command if command.startswith("/") or not command else "/" + command)
    if query:
        path += "?" + urllib.parse.urlencode(query)
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return "<%s>" % type(e).__name__, None, ""
    finally:
        conn.close()


def record_to_value(rec) -> Any:
    """A jute record as plain data: dicts in field order, lists, ints, strs, bytes, None."""
    if rec is None:
        return None
    if isinstance(rec, JuteRecord):
        return {f: record_to_value(getattr(rec, f)) for f in rec.fields}
    if isinstance(rec, list):
        return [record_to_value(v) for v in rec]
    return rec


def op_name(op: int | None) -> str:
    if op is None:
        return "?"
    try:
        return OpCode(op).name.lower()
    except ValueError:
        return "op%d" % op


def _enum_name(enum, value: int) -> str:
    """e.g. "NODE_DATA_CHANGED(3)": readable, and still carries the exact number."""
    try:
        return "%s(%d)" % (enum(value).name, value)
    except ValueError:
        return "%d" % value


def err_name(err: int) -> str:
    try:
        return "%s(%d)" % (Err(err).name, err)
    except ValueError:
        return "%d" % err


def _decode_exact(rec_cls, buf: bytes, pos: int) -> tuple[Any, int]:
    """Decode one record and insist that it re-encodes to exactly the bytes read."""
    rec, end = rec_cls.decode(buf, pos)
    if rec_cls.encode(rec) != buf[pos:end]:
        raise JuteError("%s does not re-encode to the bytes received" % rec_cls.name)
    return rec, end


def decode_multi_body(body: bytes) -> list[dict]:
    """A multi/multiRead response, keeping every MultiHeader field (type, done, err) and the terminator."""
    out = []
    pos = 0
    while True:
        hdr, pos = _decode_exact(r.MultiHeader, body, pos)
        item = {"type": op_name(hdr.type) if hdr.type != -1 else "error", "done": hdr.done, "err": err_name(hdr.err)}
        if hdr.done:
            out.append({"type": hdr.type, "done": hdr.done, "err": hdr.err})
            break
        rec_cls = messages.MULTI_RESULT_RECORDS.get(hdr.type, "unknown")
        if rec_cls == "unknown":
            raise JuteError("unknown multi result type %d" % hdr.type)
        if rec_cls is not None:
            rec, pos = _decode_exact(rec_cls, body, pos)
            item["body"] = record_to_value(rec)
        out.append(item)
    if pos != len(body):
        raise JuteError("%d trailing bytes after multi response" % (len(body) - pos))
    return out


def decode_reply_body(op: int | None, body: bytes) -> Any:
    """The body of a reply to ``op``: decoded plain data, None when empty, or {'raw': hex} when it does not decode."""
    if not body:
        return None
    try:
        if op in (OpCode.MULTI, OpCode.MULTI_READ):
            return decode_multi_body(body)
        rec_cls = messages.RESPONSE_RECORDS.get(op) if op is not None else None
        if rec_cls is None:
            raise JuteError("no response record for %s" % op_name(op))
        rec, pos = _decode_exact(rec_cls, body, 0)
        if pos != len(body):
            raise JuteError("trailing bytes")
        return record_to_value(rec)
    except (JuteError, IndexError, ValueError):
        return {"raw": body.hex()}


# --- ACL helpers and one method per opcode ---------------------------------------------------


def acl(perms: int, scheme: str, ident: str) -> r.ACL:
    return r.ACL(int(perms), r.Id(scheme, ident))


OPEN_ACL = [acl(31, "world", "anyone")]
READ_ACL = [acl(1, "world", "anyone")]
CREATOR_ALL_ACL = [acl(31, "auth", "")]


def digest(user: str, password: str) -> str:
    """The digest scheme's id for user:password: user:base64(sha1(user:password))."""
    import base64
    import hashlib

    return "%s:%s" % (user, base64.b64encode(hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()).decode())


class Ops:
    """Typed request builders, mixed into Connection: each sends one request and waits for its reply."""

    def connect(self, **kw) -> Event | None:
        """Handshake (see send_connect for the arguments) and wait for the ConnectResponse."""
        self.send_connect(**kw)
        return self.wait_connect_response()

    def create(self, path, data=b"", acl=None, flags=0, *, op=OpCode.CREATE, ttl=None, **kw):
        acl = OPEN_ACL if acl is None else acl
        if op == OpCode.CREATE_TTL or ttl is not None:
            rec = r.CreateTTLRequest(path, data, acl, flags, 0 if ttl is None else ttl)
            return self.call(op if op != OpCode.CREATE else OpCode.CREATE_TTL, rec, **kw)
        return self.call(op, r.CreateRequest(path, data, acl, flags), **kw)

    def create2(self, path, data=b"", acl=None, flags=0, **kw):
        return self.create(path, data, acl, flags, op=OpCode.CREATE2, **kw)

    def create_container(self, path, data=b"", acl=None, flags=4, **kw):
        return self.create(path, data, acl, flags, op=OpCode.CREATE_CONTAINER, **kw)

    def create_ttl(self, path, data=b"", acl=None, flags=5, ttl=60000, **kw):
        return self.create(path, data, acl, flags, op=OpCode.CREATE_TTL, ttl=ttl, **kw)

    def delete(self, path, version=-1, **kw):
        return self.call(OpCode.DELETE, r.DeleteRequest(path, version), **kw)

    def exists(self, path, watch=False, **kw):
        return self.call(OpCode.EXISTS, r.ExistsRequest(path, watch), **kw)

    def get_data(self, path, watch=False, **kw):
        return self.call(OpCode.GET_DATA, r.GetDataRequest(path, watch), **kw)

    def set_data(self, path, data=b"", version=-1, **kw):
        return self.call(OpCode.SET_DATA, r.SetDataRequest(path, data, version), **kw)

    def get_acl(self, path, **kw):
        return self.call(OpCode.GET_ACL, r.GetACLRequest(path), **kw)

    def set_acl(self, path, acl, version=-1, **kw):
        return self.call(OpCode.SET_ACL, r.SetACLRequest(path, acl, version), **kw)

    def get_children(self, path, watch=False, **kw):
        return self.call(OpCode.GET_CHILDREN, r.GetChildrenRequest(path, watch), **kw)

    def get_children2(self, path, watch=False, **kw):
        return self.call(OpCode.GET_CHILDREN2, r.GetChildren2Request(path, watch), **kw)

    def sync(self, path, **kw):
        return self.call(OpCode.SYNC, r.SyncRequest(path), **kw)

    def ping(self, **kw):
        kw.setdefault("xid", Xid.PING)
        return self.call(OpCode.PING, **kw)

    def check(self, path, version, **kw):
        return self.call(OpCode.CHECK, r.CheckVersionRequest(path, version), **kw)

    def multi(self, ops, **kw):
        return self.call(OpCode.MULTI, body=messages.encode_multi(ops), **kw)

    def multi_read(self, ops, **kw):
        return self.call(OpCode.MULTI_READ, body=messages.encode_multi(ops), **kw)

    def reconfig(self, joining="", leaving="", new_members="", cur_config_id=-1, **kw):
        return self.call(OpCode.RECONFIG, r.ReconfigRequest(joining, leaving, new_members, cur_config_id), **kw)

    def check_watches(self, path, wtype, **kw):
        return self.call(OpCode.CHECK_WATCHES, r.CheckWatchesRequest(path, wtype), **kw)

    def remove_watches(self, path, wtype, **kw):
        return self.call(OpCode.REMOVE_WATCHES, r.RemoveWatchesRequest(path, wtype), **kw)

    def get_ephemerals(self, prefix, **kw):
        return self.call(OpCode.GET_EPHEMERALS, r.GetEphemeralsRequest(prefix), **kw)

    def get_all_children_number(self, path, **kw):
        return self.call(OpCode.GET_ALL_CHILDREN_NUMBER, r.GetAllChildrenNumberRequest(path), **kw)

    def set_watches(self, relative_zxid, data=(), exist=(), child=(), **kw):
        kw.setdefault("xid", Xid.SET_WATCHES)
        rec = r.SetWatches(relative_zxid, list(data), list(exist), list(child))
        return self.call(OpCode.SET_WATCHES, rec, **kw)

    def set_watches2(self, relative_zxid, data=(), exist=(), child=(), persistent=(), recursive=(), **kw):
        kw.setdefault("xid", Xid.SET_WATCHES)
        rec = r.SetWatches2(relative_zxid, list(data), list(exist), list(child), list(persistent), list(recursive))
        return self.call(OpCode.SET_WATCHES2, rec, **kw)

    def add_watch(self, path, mode, **kw):
        return self.call(OpCode.ADD_WATCH, r.AddWatchRequest(path, mode), **kw)

    def who_am_i(self, **kw):
        return self.call(OpCode.WHO_AM_I, **kw)

    def close_session(self, **kw):
        return self.call(OpCode.CLOSE_SESSION, **kw)

    def auth(self, scheme, auth: bytes, auth_type=0, **kw):
        kw.setdefault("xid", Xid.AUTH)
        return self.call(OpCode.AUTH, r.AuthPacket(auth_type, scheme, auth), **kw)

    def raw_request(self, op, body: bytes, **kw):
        """A request whose body is given as bytes (malformed bodies, unknown opcodes)."""
        return self.call(op, body=body, **kw)

    def barrier(self, **kw):
        """A ping used as a fence: the server answers it after everything it queued before on this connection."""
        return self.ping(**kw)


class MultiOp:
    """Builders of (op type, record) pairs for multi and multiRead."""

    @staticmethod
    def create(path, data=b"", acl=None, flags=0, op=OpCode.CREATE):
        return (op, r.CreateRequest(path, data, OPEN_ACL if acl is None else acl, flags))

    @staticmethod
    def create_ttl(path, data=b"", acl=None, flags=5, ttl=60000):
        return (OpCode.CREATE_TTL, r.CreateTTLRequest(path, data, OPEN_ACL if acl is None else acl, flags, ttl))

    @staticmethod
    def delete(path, version=-1):
        return (OpCode.DELETE, r.DeleteRequest(path, version))

    @staticmethod
    def set_data(path, data=b"", version=-1):
        return (OpCode.SET_DATA, r.SetDataRequest(path, data, version))

    @staticmethod
    def check(path, version):
        return (OpCode.CHECK, r.CheckVersionRequest(path, version))

    @staticmethod
    def get_data(path, watch=False):
        return (OpCode.GET_DATA, r.GetDataRequest(path, watch))

    @staticmethod
    def get_children(path, watch=False):
        return (OpCode.GET_CHILDREN, r.GetChildrenRequest(path, watch))


class Connection(Ops):
    """One TCP connection to a ZooKeeper-protocol server; see the module docstring."""

    def __init__(self, transcript: Transcript, label: str, host: str, port: int, *, deadline: float | None = None):
        self.transcript = transcript
        self.label = label
        self.host = host
        self.port = port
        self.scenario_deadline = deadline
        self.sock = socket.create_connection((host, port), timeout=DEFAULT_WAIT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._decoder = FrameDecoder(frame_bytes_max=1 << 30)
        self._frames: collections.deque[bytes] = collections.deque()
        self._pending: dict[int, collections.deque[int]] = collections.defaultdict(collections.deque)
        self._eof = False
        self._close_recorded = False
        self._expect_connect_response = False
        self._next_xid = 1
        self.sent_any = False
        # What we learnt about the session (from the ConnectResponse), for reconnects and cleanup.
        self.session_id: int | None = None
        self.passwd: bytes | None = None
        self.negotiated_timeout_ms: int | None = None
        self.session_closed = False  # closeSession answered, or the session is known dead
        self.requested_session_id = 0
        self.dead_session_id: int | None = None  # a session the server refused to resume (expired/unknown)
        self.no_epilogue = False  # set by scenarios whose connection must not get the closing ping

    # --- sending -----------------------------------------------------------------------------

    def next_xid(self) -> int:
        xid = self._next_xid
        self._next_xid += 1
        return xid

    def send_bytes(self, data: bytes) -> None:
        """Write raw bytes on the socket: no framing, no bookkeeping."""
        self.sent_any = True
        try:
            self.sock.sendall(data)
        except OSError:
            # The server may already have closed; what it sent is still readable and recorded.
            pass

    def send_frame(self, body: bytes) -> None:
        self.send_bytes(frame(body))

    def send_connect(
        self,
        *,
        timeout_ms: int = 10000,
        session_id: int = 0,
        passwd: bytes | None = b"\x00" * 16,
        last_zxid_seen: int = 0,
        read_only: bool | None = False,
        protocol_version: int = 0,
    ) -> None:
        """Send a ConnectRequest (read_only=None omits the readOnly byte, as a 3.3-era client does)."""
        req = r.ConnectRequest(protocol_version, last_zxid_seen, timeout_ms, session_id, passwd)
        self.requested_session_id = session_id
        self._expect_connect_response = True
        self.send_frame(messages.encode_connect_request(req, read_only))

    def submit(self, op: int, request=None, *, xid: int | None = None, body: bytes | None = None) -> int:
        """Send one request without waiting; returns its xid.  ``body`` overrides the encoded record."""
        if xid is None:
            xid = self.next_xid()
        if body is None:
            body = request.to_bytes() if request is not None else b""
        self._pending[xid].append(op)
        self.send_frame(r.RequestHeader.encode(r.RequestHeader(xid, op)) + body)
        return xid

    def encode_request(self, op: int, request=None, *, xid: int | None = None, body: bytes | None = None) -> bytes:
        """A framed request registered as pending but not sent: for pipelining several in one write."""
        if xid is None:
            xid = self.next_xid()
        if body is None:
            body = request.to_bytes() if request is not None else b""
        self._pending[xid].append(op)
        return frame(r.RequestHeader.encode(r.RequestHeader(xid, op)) + body)

    def expect_reply(self, xid: int, op: int) -> None:
        """Declare that frames with this xid answer ``op`` (for raw frames sent with send_bytes)."""
        self._pending[xid].append(op)

    # --- receiving ---------------------------------------------------------------------------

    def _deadline(self, timeout_s: float) -> float:
        d = time.monotonic() + timeout_s
        if self.scenario_deadline is not None:
            d = min(d, self.scenario_deadline)
        return d

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False when the deadline passed without any."""
        if self._eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            data = b""
        except OSError:
            data = b""
        if not data:
            self._eof = True
            return True
        try:
            self._frames.extend(self._decoder.feed(data))
        except FrameError:  # pragma: no cover - the limit is 1 GiB
            self._eof = True
        return True

    def _record_frame(self, data: bytes) -> Event:
        if self._expect_connect_response:
            self._expect_connect_response = False
            return self.transcript.add(Event("connect_response", self.label, self._decode_connect_response(data)))
        if len(data) < _REPLY_HEADER_LEN:
            return self.transcript.add(Event("reply", self.label, {"raw": data.hex()}))
        hdr, _ = r.ReplyHeader.decode(data, 0)
        body = data[_REPLY_HEADER_LEN:]
        if hdr.xid == Xid.NOTIFICATION and not self._pending.get(hdr.xid):
            # (a scenario that itself sent xid -1 gets its answer decoded as a reply instead)
            fields: dict[str, Any] = {"xid": hdr.xid, "zxid": hdr.zxid, "err": err_name(hdr.err)}
            try:
                ev, end = _decode_exact(r.WatcherEvent, body, 0)
                if end != len(body):
                    raise JuteError("trailing bytes")
                fields["event"] = {
                    "type": _enum_name(EventType, ev.type),
                    "state": _enum_name(KeeperState, ev.state),
                    "path": ev.path,
                }
            except (JuteError, IndexError, ValueError):
                fields["event"] = {"raw": body.hex()}
            return self.transcript.add(Event("notification", self.label, fields))
        queue = self._pending.get(hdr.xid)
        if queue:
            op = queue.popleft()
        elif hdr.xid == Xid.PING:
            op = OpCode.PING
        else:
            op = None
        fields = {"op": op_name(op), "xid": hdr.xid, "zxid": hdr.zxid, "err": err_name(hdr.err)}
        decoded = decode_reply_body(op, body)
        if decoded is not None:
            fields["body"] = decoded
        if op == OpCode.CLOSE_SESSION and hdr.err == 0:
            self.session_closed = True
        return self.transcript.add(Event("reply", self.label, fields))

    def _decode_connect_response(self, data: bytes) -> dict:
        try:
            resp, pos = _decode_exact(r.ConnectResponse, data, 0)
        except (JuteError, IndexError, ValueError):
            return {"raw": data.hex()}
        rest = data[pos:]
        if len(rest) > 1 or (rest and rest[0] not in (0, 1)):
            return {"raw": data.hex()}
        read_only = None if not rest else bool(rest[0])
        if resp.session_id != 0:
            self.session_id = resp.session_id
            self.passwd = resp.passwd
            self.negotiated_timeout_ms = resp.time_out
        else:
            self.session_closed = True
            if self.requested_session_id:
                self.dead_session_id = self.requested_session_id
        return {
            "protocol_version": resp.protocol_version,
            "time_out": resp.time_out,
            "session_id": resp.session_id,
            "passwd": resp.passwd,
            "read_only": read_only,
        }

    def next_event(self, timeout_s: float = DEFAULT_WAIT_S) -> Event | None:
        """Consume and record the next frame (or the close); None after the timeout (nothing recorded)."""
        deadline = self._deadline(timeout_s)
        while True:
            if self._frames:
                return self._record_frame(self._frames.popleft())
            if self._eof:
                if self._close_recorded:
                    return None
                self._close_recorded = True
                fields = {}
                if self._decoder.buffered_bytes:
                    fields["unframed_bytes"] = self._decoder.buffered_bytes
                return self.transcript.add(Event("closed", self.label, fields))
            if not self._fill(deadline):
                if time.monotonic() >= deadline:
                    return None

    def wait_for(self, predicate, what: str, timeout_s: float = DEFAULT_WAIT_S) -> Event | None:
        """Consume events until one satisfies ``predicate``; records ``timeout`` (and returns None) if none does.

        A close ends the wait too (the close is recorded; None is returned).
        """
        deadline = self._deadline(timeout_s)
        while True:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                if self._close_recorded:
                    return None
                self.transcript.add(Event("timeout", self.label, {"waiting_for": what}))
                return None
            if predicate(ev):
                return ev
            if ev.kind == "closed":
                return None

    def wait_reply(self, xid: int, timeout_s: float = DEFAULT_WAIT_S) -> Event | None:
        return self.wait_for(
            lambda e: e.kind == "reply" and e.fields.get("xid") == xid, "reply xid %d" % xid, timeout_s
        )

    def wait_connect_response(self, timeout_s: float = DEFAULT_WAIT_S) -> Event | None:
        return self.wait_for(lambda e: e.kind == "connect_response", "connect response", timeout_s)

    def wait_notification(self, timeout_s: float = DEFAULT_WAIT_S) -> Event | None:
        return self.wait_for(lambda e: e.kind == "notification", "notification", timeout_s)

    def wait_close(self, timeout_s: float = DEFAULT_WAIT_S) -> bool:
        """Consume everything up to the end of the stream; True if the server closed."""
        self.wait_for(lambda e: e.kind == "closed", "server close", timeout_s)
        return self._close_recorded

    def drain_quiet(self, timeout_s: float = QUIET_WAIT_S) -> None:
        """A bounded "nothing more arrives" check: records whatever arrives within ``timeout_s``."""
        deadline = self._deadline(timeout_s)
        while True:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            if ev is None or ev.kind == "closed":
                break
        if not self._close_recorded:
            self.transcript.add(Event("quiet", self.label, {"waited_ms": int(timeout_s * 1000)}))

    @property
    def awaiting_connect_response(self) -> bool:
        return self._expect_connect_response

    @property
    def closed(self) -> bool:
        return self._eof

    @property
    def close_recorded(self) -> bool:
        return self._close_recorded

    def call(
        self,
        op: int,
        request=None,
        *,
        xid: int | None = None,
        body: bytes | None = None,
        timeout_s: float = DEFAULT_WAIT_S,
    ) -> Event | None:
        """Send one request and wait for its reply (recording everything before it)."""
        xid = self.submit(op, request, xid=xid, body=body)
        return self.wait_reply(xid, timeout_s)

    @contextlib.contextmanager
    def unrecorded(self):
        """Consume frames without recording them (keep-alive traffic whose count depends on timing)."""
        saved = self.transcript
        self.transcript = Transcript()
        try:
            yield self
        finally:
            self.transcript = saved

    def close_socket(self) -> None:
        """Drop the TCP connection without closeSession (as a crashed or partitioned client)."""
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass
        self._eof = True
        self._close_recorded = True
