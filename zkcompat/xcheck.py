"""``zkcompat xcheck``: a proxy that serves clients from real ZooKeeper and cross-checks a candidate.

Usage::

    zkcompat xcheck --listen [HOST:]PORT --real HOST:PORT --candidate HOST:PORT [--log FILE] [--json] [--wait S]

Theory of operation
-------------------
Clients connect to the proxy as to any ZooKeeper.  Each client connection (a *link*, labelled
``c1``, ``c2``...) gets one TCP connection to the **real** server and, once its first frame shows
a ZooKeeper session handshake, one to the **candidate** (zkcompat).

Transparency.  Bytes are copied unchanged in both directions between the client and the real
server, as soon as they arrive: written to the socket before anything else is done with them
(not left in Twisted's buffer for the next reactor turn), TCP_NODELAY on every socket, flow
control between the two, a half-close forwarded as a half-close.  The client never sees a byte of
the candidate, and the candidate's speed never delays the client.  Inspection works on a copy,
after the bytes have been forwarded, and an inspection error only stops the checking of that
link, never its traffic.  Inspection does cost CPU (about 0.2 ms per request in this process), so
a client that sends its next request at once may find the proxy still busy with the last one.

Four-letter words (and anything else whose first four bytes are not a valid frame length) are
passed through to the real server only; no candidate connection is opened.

Mirroring.  Every client frame is sent to the candidate too, in the candidate's own session:

- the ConnectRequest of a new session is replayed as is; the two ConnectResponses pair the real
  session (id, password) with the candidate's;
- a reconnect with a real session id is sent with the paired candidate id, and the candidate's
  password when the client presented the right real one (a wrong password stays wrong);
- zxids the client read from the real server (``lastZxidSeen`` of the handshake, the
  ``relativeZxid`` of setWatches/setWatches2) are translated to the candidate's zxid at the same
  point of history: the partner of the newest real zxid at or below it, from the reply headers
  already paired;
- every other frame is sent byte for byte (same xids, same bodies).

Ordering.  The two servers must apply the clients' requests in the same order for their answers
to be comparable, and the order that counts is the one the real server chose: requests of
different clients that reach the proxy close together may be applied by ZooKeeper in either order
(one connection's thread gets to the queue first).  So a request is sent to the candidate only once
its place in the real server's order is known, from the zxid of the real answer: a write's answer
carries the zxid of its own transaction (a failed write's too: an error transaction), a read's the
zxid of the last transaction applied before it, so a read at zxid z goes after the write z and
before z+1.  A request can be placed once its real answer has come *and* every request forwarded
to the real server before that answer came has been answered (those forwarded later cannot have
been applied earlier).  A handshake's answer has no zxid (nor does any answer carry the zxid of
the session's createSession): it is placed after every request forwarded before it, and after
what the answers seen by then show the server had applied.  A request the real server never answers (its connection closed, or no answer within the
wait) goes last.  The candidate then gets the placed requests in that order, and a request is held
back while the candidate still owes an answer on *another* link (requests of one link are
pipelined freely), so the candidate applies them in the same order too.  The candidate therefore
lags the real server by one real answer; its own speed still never delays the client.

History.  Zxid distances and stats are only comparable if both servers hold the same data: start
both empty (or from the same snapshot) and send every client through the proxy.  Transactions a
server makes on its own (a session expiring, a container or TTL node reaped) happen at different
moments on the two servers.  When a client acts on a watch event such a transaction caused, the
candidate must have made it too: a request that reaches the proxy after a real watch
notification is not sent to the candidate before the candidate's counterpart of that notification
has come (or its wait is over).  A read that races with such a transaction may still see it on
one server only.

Pairing.  Replies are paired by xid per link (first in, first out when an xid repeats: pings,
auth, setWatches).  Watch notifications (xid -1) are paired per link with the first identical
one from the other side, in whatever order they come (the events of transactions the servers make
on their own, such as two TTL nodes reaped in one pass on one server and in two passes on the
other, may come in either order); one still without a counterpart when its wait is over is paired
with the oldest unpaired one of the other side (and their difference reported), or reported
missing.  A
request that follows a closeSession on its connection gets, from ZooKeeper itself, either
its normal answer (a second closeSession: OK, and a transaction), SESSIONEXPIRED or no answer at
all, depending on whether it was read before the close completed; when either side answered
SESSIONEXPIRED or did not answer, that is accepted.  Every
wait is bounded by ``--wait`` seconds (default 5): a candidate slower than that, a reply or
notification that one side never sends, a connection that one side closes and the other keeps
open, are divergences.  (The candidate only gets a request once the real server has answered it,
or has been given the wait to.)

Closing.  When the client goes, its real connection is closed at once (as a direct client's
would be); the candidate connection stays until the candidate has answered what it was sent (so a
closeSession reaches it), then the proxy closes it.  When the real server closes a connection
(after closeSession, an auth failure, a reconnect of the same session elsewhere), the candidate
must close it too within the wait.  When the candidate closes a connection the real server keeps,
that is reported once, and the client goes on being served by the real server; its later requests
are not mirrored (``unmirrored`` counts them).

What is compared.  Each paired answer is decoded into the same plain fields as the conformance
suite records (``conformance.client``: op, xid, zxid, err, and the body decoded by opcode, or raw
hex when it does not decode exactly), normalised with ``conformance.normalize.Normalizer`` and
diffed field by field with ``conformance.compare.compare_events``.  Normalisation, as there, and
only this:

- zxids (``zxid``, ``czxid``, ``mzxid``, ``pzxid``) by their distance from the newest *anchor* at
  or below them on their side: an anchor is a pair of zxids the two servers gave the same client
  write (its answer's zxid, added after that answer is compared), named by its real zxid, so
  ``Z@1fe+2`` is two transactions after the one that is 0x1fe on the real server.  A difference
  (a transaction one server made on its own, between the anchor and this answer) is reported
  where it shows, and the next write re-anchors, so it is not reported again for the rest of the
  run.  Zxids below every anchor are distances ``Z+n`` from the first positive zxid seen in the
  *session* on that side (zero and negative zxids stay literal);
- the zxid of an answer that is not a transaction's (reads, sync, watches, auth...) is not
  compared: it is the server's latest zxid, which counts transactions the proxy cannot put in
  order (a new session's createSession, whose zxid no answer carries, and what each server does
  on its own);
- times (``ctime``, ``mtime``) as ``T(<their zxid>)``, checked as they arrive: one zxid has one
  time, times never decrease as zxids grow, and no time lies in the future or before the earliest
  real time seen (a minute's slack either way); a time that breaks this renders ``T!<raw>``;
- session ids (``session_id``, ``ephemeral_owner``) and passwords by identity: a session paired
  by the proxy is ``session#k`` on both sides (so an ephemeralOwner must be the *corresponding*
  session, not just any), anything else ``unpaired-session#n``;
- the zxid of a closeSession answer is not compared either, and the pair is no anchor: a
  session's end races with other sessions' starts, whose createSession zxids no answer carries
  (an anchor at a closeSession that one server ordered before such a start and the other after
  it made the next write differ by one);
- ping replies are compared loosely: xid and error only (their zxid is the server's latest, which
  depends on timing).

Every other field must be equal: error codes, data, ACLs, versions, counts, children in order,
paths, multi results, the presence of the handshake's readOnly byte, notification types, states
and paths.  Known *intended* differences of conformance/intended_differences.toml are keyed by
scenario and are not applied here.

Output.  Each divergence is one line on stderr (or ``--log FILE``): the link, the opcode, the xid,
a summary of the request, the differing fields with both normalised values, and both decoded
answers; with ``--json`` the same as one JSON object per line.  On SIGINT/SIGTERM the proxy stops
listening, lets comparisons in flight finish (bounded by the wait), and prints ``xcheck: N
requests, M divergences`` on stderr (N counts client frames of ZooKeeper links, handshakes and
pings included; with ``--json`` a JSON summary line goes to the log as well).

Memory: per open link, what is in flight; per live session, its normalisers (the times of the
zxids it saw); a session closed on both servers is forgotten.  The last 10,000 exchanges (link, op,
xid, request summary, reply headers; not their data) are kept in ``history`` for tools and tests.

Programmatic use (tests)::

    proxy = XCheckProxy(real=("127.0.0.1", 2181), candidate=("127.0.0.1", 2182)).start()
    ... clients connect to proxy.hosts ...
    proxy.wait_settled(10)
    assert proxy.divergences == []
    proxy.stop()

``start()`` runs the proxy on a private reactor in a daemon thread; ``start_in_reactor(reactor,
port)`` runs it on a reactor you drive.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TextIO

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from zope.interface import implementer

from conformance.client import Transcript, decode_reply_body, err_name, op_name, record_to_value
from conformance.compare import compare_events
from conformance.normalize import TIME_FIELDS, TIME_SLACK_MS, ZXID_FIELDS, Normalizer, NormEvent, flatten, render_value
from protocol import messages
from protocol import records as r
from protocol.codes import JUTE_MAXBUFFER_DEFAULT, Err, EventType, KeeperState, OpCode, Xid
from protocol.framing import FrameDecoder, FrameError, frame
from protocol.jute import JuteError

DEFAULT_WAIT_S = 5.0
_INSPECT_FRAME_MAX = 1 << 30  # inspection never refuses a frame; the servers judge lengths themselves
_REPLY_HEADER_LEN = 16
_ZXID_PAIRS_MAX = 1 << 16


# --- normalisation: conformance.normalize.Normalizer, fed one answer at a time ----------------------


class Labels:
    """What one side's normalisers share: session and password labels, and a counter for strangers."""

    def __init__(self):
        self.identities: dict[int, str] = {}
        self.passwords: dict[bytes, str] = {}
        self._unpaired = itertools.count(1)

    def unpaired(self) -> int:
        return next(self._unpaired)


class TimeWindow:
    """The range a time must lie in: from the earliest reference time seen (or the proxy's start)
    minus the slack, to now plus the slack."""

    def __init__(self, start_ms: int):
        self.floor_ms = start_ms - TIME_SLACK_MS

    def accepts(self, t: int) -> bool:
        return self.floor_ms <= t <= int(time.time() * 1000) + TIME_SLACK_MS


class Anchors:
    """Zxids the two servers gave the same transaction: the answers to the clients' writes (a failed
    write's too: an error transaction).  A zxid is rendered as its distance from the newest anchor
    at or below it on its own side, named by the real zxid of that anchor: ``Z@1fe+2`` (two
    transactions after the one that is 0x1fe on the real server); one below every anchor, as its
    distance from the first zxid its session saw (``Z+2``, as in the conformance suite)."""

    def __init__(self):
        self.real: list[int] = []
        self.cand: list[int] = []

    def add(self, zr: int, zc: int) -> None:
        if zr <= 0 or zc <= 0:
            return
        if not self.real or (zr > self.real[-1] and zc > self.cand[-1]):
            self.real.append(zr)
            self.cand.append(zc)
            if len(self.real) > _ZXID_PAIRS_MAX:  # only recent history is asked about
                del self.real[: _ZXID_PAIRS_MAX // 2]
                del self.cand[: _ZXID_PAIRS_MAX // 2]

    def add_real_only(self, zr: int) -> None:
        """A transaction the real server made for a client and the candidate did not."""
        if self.real and zr > self.real[-1]:
            self.real.append(zr)
            self.cand.append(self.cand[-1])

    def render(self, z: int, *, reference: bool) -> str | None:
        own = self.real if reference else self.cand
        i = bisect.bisect_right(own, z) - 1
        return None if i < 0 else "Z@%x%+d" % (self.real[i], z - own[i])


class StreamNormalizer(Normalizer):
    """``Normalizer`` for a stream: the conformance normaliser checks times and picks its zxid base
    over a whole transcript before rendering; a proxy sees one answer at a time, so this subclass
    does the same checks incrementally (``feed``) and reuses every renderer of the base class."""

    def __init__(self, labels: Labels, window: TimeWindow, anchors: Anchors, *, reference: bool):
        super().__init__(Transcript())
        self.anchors = anchors
        self.labels = labels
        self.identities = labels.identities
        self.passwords = labels.passwords
        self.window = window
        self.reference = reference
        self._times: dict[int, int] = {}  # zxid -> its (accepted) time
        self._zxids: list[int] = []  # sorted keys of _times

    def feed(self, fields: dict) -> list[tuple[str, Any]]:
        """Observe one answer's zxids and times, then return its normalised, flattened fields."""
        for key, value, parent in _scalars(fields):
            if key in ZXID_FIELDS and isinstance(value, int):
                self._see_zxid(value)
            elif key in TIME_FIELDS and isinstance(parent, dict) and isinstance(value, int):
                z = parent.get(TIME_FIELDS[key])
                if isinstance(z, int) and z > 0:
                    self._see_time(z, value)
        return flatten({k: self.value(k, v, fields) for k, v in fields.items()})

    def _see_time(self, z: int, t: int) -> None:
        if (z, t) in self.time_ok:
            return
        if self.reference:
            self.window.floor_ms = min(self.window.floor_ms, t - TIME_SLACK_MS)
        ok = self.window.accepts(t)
        known = self._times.get(z)
        if known is not None:
            ok = ok and known == t
        elif ok:
            i = bisect.bisect_left(self._zxids, z)
            if i > 0 and self._times[self._zxids[i - 1]] > t:
                ok = False
            if i < len(self._zxids) and self._times[self._zxids[i]] < t:
                ok = False
            if ok:
                self._zxids.insert(i, z)
                self._times[z] = t
        self.time_ok[(z, t)] = ok

    def zxid(self, z: int) -> Any:
        out = self.anchors.render(z, reference=self.reference) if z > 0 else None
        return super().zxid(z) if out is None else out

    def session(self, v: int) -> Any:
        if v in self.identities:
            return self.identities[v]
        out = super().session(v)  # sentinels stay literal; anything else gets registered...
        if v in self.identities:  # ...and, not being a session the proxy paired, is labelled so
            out = self.identities[v] = "unpaired-session#%d" % self.labels.unpaired()
        return out

    def password(self, p: bytes | None) -> Any:
        if p in self.passwords:
            return self.passwords[p]
        out = super().password(p)
        if p in self.passwords:
            out = self.passwords[p] = "unpaired-passwd#%d" % self.labels.unpaired()
        return out


def _scalars(v: Any, key: str = "", parent: Any = None):
    """(key, value, parent dict) of every scalar under v: what Normalizer._collect walks."""
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                yield from _scalars(x, k, v)
            else:
                yield k, x, v
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                yield from _scalars(x, key, v)
            else:
                yield key, x, parent


# --- decoding answers into the conformance suite's plain fields -------------------------------------


def _enum_name(enum, value: int) -> str:
    try:
        return "%s(%d)" % (enum(value).name, value)
    except ValueError:
        return "%d" % value


def connect_response_fields(data: bytes) -> dict:
    """A ConnectResponse as conformance.client records it (raw hex if it does not decode exactly)."""
    try:
        resp, pos = r.ConnectResponse.decode(data, 0)
        if r.ConnectResponse.encode(resp) != data[:pos]:
            raise JuteError("does not re-encode")
    except (JuteError, IndexError, ValueError):
        return {"raw": data.hex()}
    rest = data[pos:]
    if len(rest) > 1 or (rest and rest[0] not in (0, 1)):
        return {"raw": data.hex()}
    return {
        "protocol_version": resp.protocol_version,
        "time_out": resp.time_out,
        "session_id": resp.session_id,
        "passwd": resp.passwd,
        "read_only": None if not rest else bool(rest[0]),
    }


def reply_header(data: bytes):
    if len(data) < _REPLY_HEADER_LEN:
        return None
    return r.ReplyHeader.decode(data, 0)[0]


def reply_fields(op: int | None, hdr, data: bytes) -> dict:
    """A reply as conformance.client records it; a ping keeps only what a ping's answer promises."""
    if op == OpCode.PING:
        out: dict[str, Any] = {"op": "ping", "xid": hdr.xid, "err": err_name(hdr.err)}
        if len(data) > _REPLY_HEADER_LEN:
            out["body"] = {"raw": data[_REPLY_HEADER_LEN:].hex()}
        return out
    out = {"op": op_name(op), "xid": hdr.xid, "zxid": hdr.zxid, "err": err_name(hdr.err)}
    body = decode_reply_body(op, data[_REPLY_HEADER_LEN:])
    if body is not None:
        out["body"] = body
    return out


def notification_fields(hdr, data: bytes) -> dict:
    out: dict[str, Any] = {"xid": hdr.xid, "zxid": hdr.zxid, "err": err_name(hdr.err)}
    try:
        ev = r.WatcherEvent.from_bytes(data[_REPLY_HEADER_LEN:])
        out["event"] = {
            "type": _enum_name(EventType, ev.type),
            "state": _enum_name(KeeperState, ev.state),
            "path": ev.path,
        }
    except (JuteError, IndexError, ValueError):
        out["event"] = {"raw": data[_REPLY_HEADER_LEN:].hex()}
    return out


def describe_request(op: int | None, body: bytes) -> str:
    """A short human summary of a request body: its decoded record, or its size."""
    try:
        if op in (OpCode.MULTI, OpCode.MULTI_READ):
            ops, _ = messages.decode_multi(body)
            return "[%s]" % ", ".join("%s %s" % (op_name(t), _short_record(rec)) for t, rec in ops)
        cls = messages.REQUEST_RECORDS.get(op) if op is not None else None
        if cls is None:
            return "" if not body else "%d bytes" % len(body)
        return _short_record(cls.decode(body, 0)[0])
    except (JuteError, IndexError, ValueError):
        return "undecodable %d bytes" % len(body)


def _short_record(rec) -> str:
    value = record_to_value(rec)
    if not isinstance(value, dict):
        return render_value(value, 80)
    return " ".join("%s=%s" % (k, render_value(v, 60)) for k, v in value.items())


def _render_answer(fields: dict | None, limit: int = 60) -> str:
    if fields is None:
        return "(none)"
    parts = []
    for k, v in flatten(fields):
        if isinstance(v, int) and not isinstance(v, bool) and v > 0 and (k.endswith("zxid") or k == "session_id"):
            parts.append("%s=0x%x" % (k, v))
        else:
            parts.append("%s=%s" % (k, render_value(v, limit)))
    return " ".join(parts)


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return render_value(v)
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


# --- what is reported ------------------------------------------------------------------------------


@dataclass
class Divergence:
    """One answer (or close, or missing answer) on which the candidate differs from the real server."""

    conn: str
    op: str
    xid: int | None
    request: str
    real: str  # the real server's decoded answer (or what happened instead)
    candidate: str  # the candidate's
    differs: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, real, candidate), normalised
    kind: str = "reply"  # reply | connect | notification | close | connection

    @property
    def fields(self) -> list[str]:
        return [d[0] for d in self.differs]

    def to_text(self) -> str:
        diffs = "; ".join(
            "%s: real %s, candidate %s" % (f, render_value(a, 80), render_value(b, 80)) for f, a, b in self.differs
        )
        return "xcheck: divergence %s %s xid=%s request={%s} differs: %s | real: %s | candidate: %s" % (
            self.conn, self.op, self.xid, self.request, diffs, self.real, self.candidate)

    def to_json(self) -> dict:
        return {
            "conn": self.conn,
            "kind": self.kind,
            "op": self.op,
            "xid": self.xid,
            "request": self.request,
            "differs": [{"field": f, "real": _jsonable(a), "candidate": _jsonable(b)} for f, a, b in self.differs],
            "real": self.real,
            "candidate": self.candidate,
        }


@dataclass
class Exchange:
    """One client request and the two answers to it."""

    link: Link
    op: int | None  # None: the handshake
    xid: int | None
    summary: str
    real: dict | None = None
    cand: dict | None = None
    real_hdr: Any = None
    cand_hdr: Any = None
    real_missing: str | None = None  # why no real answer will come
    cand_missing: str | None = None  # why no candidate answer will come ("unmirrored": never sent)
    inflight: bool = False
    done: bool = False
    after_close: bool = False  # sent after a closeSession on the same connection
    timer: Any = None
    held: _Held | None = None  # while it waits for its place in the real server's order

    @property
    def op_label(self) -> str:
        return "connect" if self.op is None else op_name(self.op)


@dataclass
class _Held:
    """A request forwarded to the real server, not yet sent to the candidate (see "Ordering")."""

    link: Link
    ex: Exchange | None
    body: bytes
    seq: int  # arrival (= forwarding) order
    notes_before: int  # real notifications seen when it arrived
    max_zxid_before: int  # the highest real zxid seen when it arrived
    key: tuple | None = None  # its place in the real server's order, once its answer (or its absence) is known
    resolved_at: int = 0  # how many requests had been forwarded when that was known
    hint: tuple | None = None  # a handshake's place from its answer alone, until it is settled


# Requests whose answer carries the zxid of their own transaction (a failed one too: an error txn).
_WRITE_OPS = frozenset({OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL, OpCode.DELETE,
                        OpCode.DELETE_CONTAINER, OpCode.SET_DATA, OpCode.SET_ACL, OpCode.MULTI, OpCode.CHECK,
                        OpCode.RECONFIG, OpCode.CLOSE_SESSION})
_LAST = (float("inf"), 1)


@dataclass
class _SessionPair:
    label: str
    real_id: int
    cand_id: int
    real_passwd: bytes
    cand_passwd: bytes
    norms: tuple[StreamNormalizer, StreamNormalizer]


# --- one client connection -------------------------------------------------------------------------


class Link:
    """A client connection, its real-server connection and its candidate connection."""

    def __init__(self, proxy: XCheckProxy, number: int, client: _ClientSide):
        self.proxy = proxy
        self.label = "c%d" % number
        self.client = client
        self.real: _RealSide | None = None
        self.cand: _CandidateSide | None = None
        self.mode: str | None = None  # None until the first 4 bytes: "zk" or "passthrough"
        self.head = b""
        self.inspecting = True
        self.requests = FrameDecoder(_INSPECT_FRAME_MAX)
        self.real_frames = FrameDecoder(_INSPECT_FRAME_MAX)
        self.cand_frames = FrameDecoder(_INSPECT_FRAME_MAX)
        self.connect_ex: Exchange | None = None
        self.greeted: set[str] = set()  # the sides whose ConnectResponse came
        self.close_sent = False  # the client sent closeSession on this connection
        self.real_awaits: dict[int, collections.deque[Exchange]] = collections.defaultdict(collections.deque)
        self.cand_awaits: dict[int, collections.deque[Exchange]] = collections.defaultdict(collections.deque)
        self.real_notes: collections.deque = collections.deque()  # [fields, timer] not yet paired
        self.cand_notes: collections.deque = collections.deque()
        self.cand_state = "none"  # none | connecting | open | closed | failed
        self.client_closed = False
        self.client_eof = False
        self.real_closed: str | None = None  # None | "itself" | "us"
        self.cand_closed: str | None = None
        self.dropped = False
        self.queued = 0  # this link's items in the proxy's candidate queue
        self.inflight = 0  # requests sent to the candidate and not answered (nor timed out)
        self.close_check = None
        self.last_key: tuple = (0, 0)  # the real-order key of this link's latest resolved request
        self.norms = proxy._new_norms()
        self.pair: _SessionPair | None = None

    # --- client -> real (already forwarded) ------------------------------------------------------

    def on_client_data(self, data: bytes) -> None:
        if self.mode is None:
            self.head += data
            if len(self.head) < 4:
                return
            length = int.from_bytes(self.head[:4], "big", signed=True)
            data, self.head = self.head, b""
            if not 0 <= length <= JUTE_MAXBUFFER_DEFAULT:
                self.mode = "passthrough"  # a four-letter word (or garbage): the real server's business only
                self.inspecting = False
                return
            self.mode = "zk"
            self.proxy._connect_candidate(self)
        try:
            frames = self.requests.feed(data)
        except FrameError:
            frames = None
        for body in frames or ():
            self._on_request(body)
        if frames is None or self.requests.error is not None:
            self.abandon()  # the client's stream is no longer framed: the real server will cut it

    def _on_request(self, body: bytes) -> None:
        proxy = self.proxy
        proxy.requests += 1
        if self.connect_ex is None:
            try:
                msg = messages.decode_connect_request(body)
                req = msg.request
                summary = "session=0x%x timeout=%d last_zxid=0x%x" % (req.session_id, req.time_out, req.last_zxid_seen)
            except (JuteError, IndexError, ValueError):
                summary = "undecodable %d bytes" % len(body)
            ex = self.connect_ex = Exchange(self, None, None, summary)
        elif len(body) < 8:
            proxy._hold(self, None, body)  # a frame too short to be a request: mirrored, not paired
            return
        else:
            hdr = r.RequestHeader.decode(body, 0)[0]
            ex = Exchange(self, hdr.type, hdr.xid, describe_request(hdr.type, body[8:]))
            ex.after_close = self.close_sent
            self.close_sent = self.close_sent or hdr.type == OpCode.CLOSE_SESSION
            self.real_awaits[hdr.xid].append(ex)
        if self.cand_state in ("closed", "failed"):
            ex.cand_missing = "unmirrored"
            proxy.unmirrored += 1
            return
        if ex.xid is not None:
            self.cand_awaits[ex.xid].append(ex)
        proxy._hold(self, ex, body)

    def translate(self, ex: Exchange | None, body: bytes) -> bytes:
        """The frame body the candidate gets for this request (session-specific values translated)."""
        proxy = self.proxy
        if ex is not None and ex.op is None:
            try:
                msg = messages.decode_connect_request(body)
            except (JuteError, IndexError, ValueError):
                return body
            req = msg.request
            pair = proxy.sessions.get(req.session_id)
            if pair is not None:
                passwd = pair.cand_passwd if req.passwd == pair.real_passwd else _wrong(req.passwd, pair.cand_passwd)
                req = req.replace(session_id=pair.cand_id, passwd=passwd)
            req = req.replace(last_zxid_seen=proxy.translate_zxid(req.last_zxid_seen))
            return messages.encode_connect_request(req, msg.read_only)
        if ex is not None and ex.op in (OpCode.SET_WATCHES, OpCode.SET_WATCHES2):
            cls = r.SetWatches if ex.op == OpCode.SET_WATCHES else r.SetWatches2
            try:
                rec = cls.from_bytes(body[8:])
            except (JuteError, IndexError, ValueError):
                return body
            rec = rec.replace(relative_zxid=proxy.translate_zxid(rec.relative_zxid))
            return body[:8] + rec.to_bytes()
        return body

    # --- answers ---------------------------------------------------------------------------------

    def on_real_data(self, data: bytes) -> None:
        try:
            frames = self.real_frames.feed(data)
        except FrameError:
            self.abandon()
            return
        for f in frames:
            self._on_answer("real", f)

    def on_cand_data(self, data: bytes) -> None:
        try:
            frames = self.cand_frames.feed(data)
        except FrameError:
            self._cand_lost_track("the candidate sent a malformed frame length")
            return
        for f in frames:
            self._on_answer("cand", f)

    def _on_answer(self, side: str, data: bytes) -> None:
        real = side == "real"
        if self.connect_ex is not None and side not in self.greeted:
            self.greeted.add(side)  # the first frame after a ConnectRequest is the ConnectResponse
            self._set_answer(self.connect_ex, side, connect_response_fields(data), None)
            return
        hdr = reply_header(data)
        if hdr is None:
            self._unexpected(side, {"raw": data.hex()})
            return
        table = self.real_awaits if real else self.cand_awaits
        awaits = table.get(hdr.xid)
        if awaits:
            ex = awaits.popleft()
            if not awaits:
                del table[hdr.xid]
            self._set_answer(ex, side, reply_fields(ex.op, hdr, data), hdr)
        elif hdr.xid == Xid.NOTIFICATION:
            if real and self.cand_state in ("closed", "failed"):
                return  # no candidate to send its counterpart (the close was reported)
            self._on_notification(side, notification_fields(hdr, data))
        else:
            self._unexpected(side, reply_fields(None, hdr, data))

    def _unexpected(self, side: str, fields: dict) -> None:
        """A frame that answers nothing the client asked: reported when the candidate sends it."""
        if side == "cand":
            self.proxy._report(Divergence(self.label, fields.get("op", "?"), fields.get("xid"), "",
                                          "(nothing)", _render_answer(fields),
                                          [("event", "(absent)", "unsolicited frame")], "reply"))

    def _set_answer(self, ex: Exchange, side: str, fields: dict, hdr) -> None:
        proxy = self.proxy
        if side == "real":
            if ex.done or ex.real_missing:
                return
            ex.real, ex.real_hdr = fields, hdr
            proxy._resolve(ex)
        else:
            if ex.inflight:
                proxy._release(ex)
            if ex.done or ex.cand_missing:
                return  # it came after its wait was over: already reported
            ex.cand, ex.cand_hdr = fields, hdr
            if ex.real is None and ex.timer is None:
                ex.timer = proxy.reactor.callLater(proxy.wait_s, self._real_timeout, ex)
        self._maybe_complete(ex)

    def _real_timeout(self, ex: Exchange) -> None:
        ex.timer = None
        if not ex.done and ex.real is None and ex.real_missing is None:
            ex.real_missing = "no answer within %gs" % self.proxy.wait_s
            self.proxy._resolve(ex)
            self._maybe_complete(ex)
        self.proxy._changed()

    def cand_timeout(self, ex: Exchange) -> None:
        ex.timer = None
        if ex.inflight:
            self.proxy._release(ex)
        if not ex.done and ex.cand is None:
            ex.cand_missing = "no answer within %gs" % self.proxy.wait_s
            self._maybe_complete(ex)
        self.proxy._changed()

    def _maybe_complete(self, ex: Exchange) -> None:
        if ex.done:
            return
        has_real = ex.real is not None or ex.real_missing is not None
        has_cand = ex.cand is not None or ex.cand_missing is not None
        if not (has_real and has_cand):
            return
        ex.done = True
        if ex.timer is not None and ex.timer.active():
            ex.timer.cancel()
        ex.timer = None
        self.proxy._complete(ex)
        self.check_drain()

    # --- notifications ---------------------------------------------------------------------------

    def _on_notification(self, side: str, fields: dict) -> None:
        mine, other = (self.real_notes, self.cand_notes) if side == "real" else (self.cand_notes, self.real_notes)
        if side == "real":
            self.proxy._real_notes_seen += 1
        # its first identical counterpart waiting on the other side: events of transactions the servers
        # make on their own (two TTL nodes reaped in one pass on one server, in two on the other) may
        # come in either order; one without a counterpart waits (see _note_timeout)
        i = next((i for i, x in enumerate(other) if x[0].get("event") == fields.get("event")), None)
        if i is not None:
            item = other[i]
            del other[i]
            if item[1] is not None and item[1].active():
                item[1].cancel()
            real, cand = (fields, item[0]) if side == "real" else (item[0], fields)
            self.proxy._compare_notifications(self, real, cand)
            self.check_drain()
            self.proxy._pump()  # (a request may have been waiting for this event's counterpart)
            return
        item = [fields, None, self.proxy._real_notes_seen - 1 if side == "real" else None]  # (its number)
        item[1] = self.proxy.reactor.callLater(self.proxy.wait_s, self._note_timeout, side, item)
        mine.append(item)

    def _note_timeout(self, side: str, item: list) -> None:
        notes = self.real_notes if side == "real" else self.cand_notes
        if any(x is item for x in notes):
            kept = [x for x in notes if x is not item]
            notes.clear()
            notes.extend(kept)
            others = self.cand_notes if side == "real" else self.real_notes
            if self.dropped:
                pass
            elif others:  # the other side sent a different one meanwhile: that is its counterpart
                pair = others.popleft()
                if pair[1] is not None and pair[1].active():
                    pair[1].cancel()
                real, cand = (item[0], pair[0]) if side == "real" else (pair[0], item[0])
                self.proxy._compare_notifications(self, real, cand)
            elif side == "real":
                self.proxy._report(Divergence(
                    self.label, "notification", Xid.NOTIFICATION, "watch event",
                    _render_answer(item[0]), "(none within %gs)" % self.proxy.wait_s,
                    [("event", "notification", "(absent)")], "notification"))
            elif self.real_closed is None:  # (once the real connection is gone it could not have sent it)
                self.proxy._report(Divergence(
                    self.label, "notification", Xid.NOTIFICATION, "watch event",
                    "(none within %gs)" % self.proxy.wait_s, _render_answer(item[0]),
                    [("event", "(absent)", "notification")], "notification"))
        self.check_drain()
        self.proxy._pump()
        self.proxy._changed()

    # --- closing ---------------------------------------------------------------------------------

    def on_client_eof(self) -> None:
        self.client_eof = True

    def on_client_lost(self) -> None:
        self.client_closed = True
        if self.real is not None and self.real_closed is None:
            self.real_closed = "us"
            self.real.transport.loseConnection()
        elif self.real is None and self.real_closed is None:
            self.real_closed = "us"  # it never connected
        self._real_gone()
        self.check_drain()

    def on_real_lost(self) -> None:
        if self.real_closed is None:
            self.real_closed = "us" if (self.client_eof or self.client_closed) else "itself"
        if self.close_check is not None:
            self._close_check()  # the candidate had closed first: now settled either way
        if not self.client_closed:
            self.client.transport.loseConnection()  # after what is buffered for it
        self._real_gone()
        if self.real_closed == "itself" and self.cand_state in ("open", "connecting") and not self.dropped:
            self._arm_close_check()
        self.check_drain()

    def _real_gone(self) -> None:
        """No more real answers: exchanges still waiting for one are settled."""
        for queue in self.real_awaits.values():
            for ex in queue:
                if not ex.done:
                    # the client's own close: nothing to compare; the real server's close: compared
                    ex.real_missing = "connection closed" if self.real_closed == "itself" else "dropped"
                    self.proxy._resolve(ex)
                    self._maybe_complete(ex)
        self.real_awaits.clear()
        if self.connect_ex is not None and self.connect_ex.real is None and not self.connect_ex.done:
            self.connect_ex.real_missing = "connection closed" if self.real_closed == "itself" else "dropped"
            self.proxy._resolve(self.connect_ex)
            self._maybe_complete(self.connect_ex)
        for item in list(self.cand_notes):  # the real side can no longer send their counterparts
            if item[1] is not None and item[1].active():
                item[1].cancel()
        self.cand_notes.clear()

    def on_cand_connected(self, cand: _CandidateSide) -> None:
        self.cand = cand
        self.cand_state = "open"
        self.proxy._pump()

    def on_cand_failed(self, reason: str) -> None:
        self.cand_state = "failed"
        self.proxy._report(Divergence(self.label, "connect", None, "(candidate connection)", "connected",
                                      "cannot connect: %s" % reason, [("connection", "open", "failed")],
                                      "connection"))
        self._cand_gone("unmirrored")
        self.check_drain()

    def on_cand_lost(self) -> None:
        self.cand_state = "closed"
        if self.cand_closed is None:
            self.cand_closed = "itself"
            if self.real_closed is None and not self.dropped:
                self._arm_close_check()
        self._cand_gone("connection closed")
        if self.close_check is not None and self.real_closed is not None:
            self._close_check()
        self.check_drain()

    def _cand_lost_track(self, why: str) -> None:
        self.proxy._report(Divergence(self.label, "?", None, "", "(well-formed stream)", why,
                                      [("stream", "framed", "malformed")], "connection"))
        if self.cand is not None and self.cand_closed is None:
            self.cand_closed = "us"
            self.cand.transport.abortConnection()

    def _cand_gone(self, why: str) -> None:
        proxy = self.proxy
        pending = [ex for q in self.cand_awaits.values() for ex in q]
        if self.connect_ex is not None and self.connect_ex.cand is None:
            pending.append(self.connect_ex)
        self.cand_awaits.clear()
        for ex in pending:
            if ex.done or ex.cand is not None or ex.cand_missing:
                continue
            if ex.inflight:
                proxy._release(ex)
                ex.cand_missing = why
            else:
                ex.cand_missing = "unmirrored"
                proxy.unmirrored += 1
            self._maybe_complete(ex)
        proxy._pump()

    def _arm_close_check(self) -> None:
        if self.close_check is None:
            self.close_check = self.proxy.reactor.callLater(self.proxy.wait_s, self._close_check)

    def _close_check(self) -> None:
        """One side closed the connection by itself: the other must have closed within the wait."""
        if self.close_check is not None and self.close_check.active():
            self.close_check.cancel()
        self.close_check = None
        if self.dropped:
            return
        if self.real_closed == "itself" and self.cand_closed != "itself":
            self.proxy._report(Divergence(self.label, "close", None, "", "closed the connection",
                                          "kept it open for %gs" % self.proxy.wait_s,
                                          [("connection", "closed", "open")], "close"))
        elif self.cand_closed == "itself" and self.real_closed is None:
            self.proxy._report(Divergence(self.label, "close", None, "",
                                          "kept it open for %gs" % self.proxy.wait_s,
                                          "closed the connection", [("connection", "open", "closed")], "close"))
        self.check_drain()
        self.proxy._changed()

    def busy(self) -> bool:
        """Still owes a comparison: answers, notifications, queued requests or a close to wait for."""
        if self.queued or self.inflight or self.real_notes or self.cand_notes or self.close_check is not None:
            return True
        pending = itertools.chain(*self.real_awaits.values(), *self.cand_awaits.values(),
                                  [self.connect_ex] if self.connect_ex is not None else [])
        return any(not ex.done and (ex.real is not None or ex.cand is not None) for ex in pending)

    def check_drain(self) -> None:
        """Once the client is gone, close the candidate as soon as it owes nothing more."""
        if (self.client_closed and self.cand_state in ("open", "connecting") and self.cand_closed is None
                and not self.busy()):
            self.cand_closed = "us"
            if self.cand is not None:
                self.cand.transport.loseConnection()
            else:
                self.cand_state = "closed"
        self.proxy._forget_if_finished(self)

    def finished(self) -> bool:
        return self.client_closed and self.cand_state in ("none", "closed", "failed") and not self.busy()

    def _cancel_timers(self) -> None:
        timers = [ex.timer for q in list(self.real_awaits.values()) + list(self.cand_awaits.values()) for ex in q]
        timers += [item[1] for item in list(self.real_notes) + list(self.cand_notes)]
        timers += [self.close_check, self.connect_ex.timer if self.connect_ex is not None else None]
        for t in timers:
            if t is not None and t.active():
                t.cancel()
        self.real_notes.clear()
        self.cand_notes.clear()
        self.close_check = None

    def abandon(self) -> None:
        """Stop cross-checking this link (its traffic with the real server goes on untouched)."""
        self.inspecting = False
        self.dropped = True
        self._cancel_timers()
        if self.cand_closed is None:
            self.cand_closed = "us"
            if self.cand is not None and self.cand.transport is not None:
                self.cand.transport.abortConnection()
        self._cand_gone("abandoned")

    def drop(self) -> None:
        """Cut all three connections now (test control); whatever was pending is not compared."""
        self.dropped = True
        self._cancel_timers()
        for side, attr in ((self.client, None), (self.real, "real_closed"), (self.cand, "cand_closed")):
            if side is None:
                continue
            if attr is not None and getattr(self, attr) is None:
                setattr(self, attr, "us")
            if side.transport is not None:
                side.transport.abortConnection()


_SESSION_EXPIRED = err_name(Err.SESSIONEXPIRED)


def _expired_or_unanswered(answer: dict | None) -> bool:
    return answer is None or answer.get("err") == _SESSION_EXPIRED


def _wrong(passwd: bytes, right: bytes) -> bytes:
    """A password that is certainly not ``right``: the client presented a wrong one to the real server."""
    if passwd is None:
        return passwd
    if passwd != right:
        return passwd
    return bytes(b ^ 0xFF for b in passwd)


# --- Twisted protocols -----------------------------------------------------------------------------


def _send_now(transport, data: bytes) -> None:
    """``transport.write``, but on the wire now when nothing is queued before it.

    Twisted's ``write`` only buffers: the bytes would leave at the reactor's next turn, after the
    inspection of this very chunk and whatever else is ready.  A pass-through must not delay the
    client by the cross-check's work, so when the transport has nothing pending the socket gets
    the bytes at once; the remainder (a full socket buffer), any error and every other case go
    through ``write`` as usual.
    """
    try:
        pending = transport._tempDataLen or len(transport.dataBuffer) - transport.offset
        sock = transport.getHandle()
    except AttributeError:  # not a plain TCP transport
        pending, sock = 1, None
    if pending or sock is None or not transport.connected or transport.disconnecting:
        transport.write(data)
        return
    try:
        sent = sock.send(data)
    except OSError:  # would block, or an error the transport will meet and report itself
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])


def _no_delay(transport) -> None:
    try:
        transport.setTcpNoDelay(True)
    except (AttributeError, OSError):
        pass


@implementer(IHalfCloseableProtocol)
class _ClientSide(protocol.Protocol):
    link: Link | None = None
    real_transport = None

    def connectionMade(self):
        _no_delay(self.transport)
        self.transport.pauseProducing()  # nothing is read until the real server is there to take it
        self.link = self.factory.proxy._new_link(self)

    def dataReceived(self, data):
        _send_now(self.real_transport, data)  # first and unconditionally: the proxy is transparent
        link = self.link
        if link.inspecting:
            link.proxy._guarded(link, link.on_client_data, data)

    def readConnectionLost(self):
        self.link.on_client_eof()
        real = self.real_transport
        if real is not None and real.connected and not real.disconnecting:
            real.loseWriteConnection()

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason=protocol.connectionDone):
        link = self.link
        link.proxy._guarded(link, link.on_client_lost)


class _RealSide(protocol.Protocol):
    def __init__(self, link: Link):
        self.link = link

    def connectionMade(self):
        _no_delay(self.transport)
        link = self.link
        client = link.client
        if link.client_closed:
            self.transport.loseConnection()
            return
        link.real = self
        client.real_transport = self.transport
        # flow control both ways, as twisted.protocols.portforward does
        self.transport.registerProducer(client.transport, True)
        client.transport.registerProducer(self.transport, True)
        client.transport.resumeProducing()

    def dataReceived(self, data):
        link = self.link
        _send_now(link.client.transport, data)  # first and unconditionally
        if link.inspecting:
            link.proxy._guarded(link, link.on_real_data, data)

    def connectionLost(self, reason=protocol.connectionDone):
        self.link.proxy._guarded(self.link, self.link.on_real_lost)


class _RealFactory(protocol.ClientFactory):
    def __init__(self, link: Link):
        self.link = link

    def buildProtocol(self, addr):
        return _RealSide(self.link)

    def clientConnectionFailed(self, connector, reason):
        link = self.link
        link.real_closed = "itself"
        link.client.transport.loseConnection()


class _CandidateSide(protocol.Protocol):
    def __init__(self, link: Link):
        self.link = link

    def connectionMade(self):
        _no_delay(self.transport)
        link = self.link
        if link.cand_closed is not None:
            self.transport.loseConnection()
            return
        link.proxy._guarded(link, link.on_cand_connected, self)

    def dataReceived(self, data):
        link = self.link
        if link.inspecting:
            link.proxy._guarded(link, link.on_cand_data, data)

    def connectionLost(self, reason=protocol.connectionDone):
        self.link.proxy._guarded(self.link, self.link.on_cand_lost)


class _CandidateFactory(protocol.ClientFactory):
    def __init__(self, link: Link):
        self.link = link

    def buildProtocol(self, addr):
        return _CandidateSide(self.link)

    def clientConnectionFailed(self, connector, reason):
        link = self.link
        link.proxy._guarded(link, link.on_cand_failed, reason.getErrorMessage())


class _ClientFactory(protocol.ServerFactory):
    protocol = _ClientSide
    noisy = False

    def __init__(self, proxy: XCheckProxy):
        self.proxy = proxy


# --- the proxy -------------------------------------------------------------------------------------

_reactor_lock = threading.Lock()
_reactor = None


def _private_reactor():
    """A reactor of our own in a daemon thread (once per process), for ``XCheckProxy.start()``."""
    global _reactor
    with _reactor_lock:
        if _reactor is None:
            from twisted.internet.epollreactor import EPollReactor

            reactor = EPollReactor()
            started = threading.Event()
            reactor.callWhenRunning(started.set)
            threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, name="xcheck-reactor",
                             daemon=True).start()
            if not started.wait(10):
                raise RuntimeError("the xcheck reactor did not start")
            _reactor = reactor
    return _reactor


class XCheckProxy:
    """The cross-check proxy; see the module docstring.  All state lives in the reactor thread."""

    def __init__(
        self,
        real: tuple[str, int],
        candidate: tuple[str, int],
        *,
        wait_s: float = DEFAULT_WAIT_S,
        log: TextIO | None = None,
        json_lines: bool = False,
        history: int = 10000,
    ):
        self.real_addr = (real[0], int(real[1]))
        self.cand_addr = (candidate[0], int(candidate[1]))
        self.wait_s = wait_s
        self.log = log
        self.json_lines = json_lines
        self.divergences: list[Divergence] = []
        self.requests = 0
        self.compared = 0  # answers (and notifications) compared
        self.unmirrored = 0  # requests the candidate never got (its connection was gone)
        self.history: collections.deque[Exchange] = collections.deque(maxlen=history)  # completed exchanges
        self.sessions: dict[int, _SessionPair] = {}  # real session id -> its pair
        self.reactor = None
        self.host = "127.0.0.1"
        self.port = 0
        self._listening = None
        self._links: dict[int, Link] = {}
        self._numbers = itertools.count(1)
        self._queue: collections.deque[tuple[Link, Exchange | None, bytes, int]] = collections.deque()
        self._real_notes_seen = 0  # real watch notifications seen so far
        self._held: list[_Held] = []  # forwarded requests not yet in _queue, in arrival order
        self._released_key: tuple = (0, 0)  # the latest place of a request sent to the candidate
        self._forwarded = 0  # requests forwarded to the real server so far
        self._max_real_zxid = 0  # the highest zxid in a real answer so far
        self._inflight_total = 0
        self._zxids_real: list[int] = []  # paired reply-header zxids, increasing on both sides
        self._zxids_cand: list[int] = []
        self._pair_numbers = itertools.count(1)
        self.anchors = Anchors()
        self._real_labels = Labels()
        self._cand_labels = Labels()
        self._window = TimeWindow(int(time.time() * 1000))
        self._cond = threading.Condition()
        self._version = 0
        self._stopped = False
        self._settle_waiters: list[Deferred] = []
        self._settle_check = False

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def hosts(self) -> str:
        return "%s:%d" % (self.host, self.port)

    def start_in_reactor(self, reactor=None, port: int = 0, interface: str = "127.0.0.1") -> int:
        """Listen on ``interface:port`` (0: any free port) from the reactor thread; returns the port."""
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.host = interface or "0.0.0.0"
        self._listening = reactor.listenTCP(port, _ClientFactory(self), interface=interface)
        self.port = self._listening.getHost().port
        return self.port

    def stop_in_reactor(self) -> Deferred:
        """Stop listening, let what is in flight finish comparing (bounded by the wait), then cut every
        link.  Returns a Deferred that fires when done."""
        listening, self._listening = self._listening, None
        stopped = listening.stopListening() if listening is not None else None
        settled = self._when_settled(self.wait_s)

        def cut(_):
            for link in list(self._links.values()):
                link.drop()
            return stopped

        return settled.addCallback(cut)

    def _when_settled(self, timeout: float) -> Deferred:
        d = Deferred()
        if self.settled():
            d.callback(True)
            return d
        self._settle_waiters.append(d)

        def give_up():
            if d in self._settle_waiters:
                self._settle_waiters.remove(d)
                d.callback(False)

        self.reactor.callLater(timeout, give_up)
        return d

    def start(self, port: int = 0, interface: str = "127.0.0.1", reactor=None) -> XCheckProxy:
        """Start on ``reactor`` (running in another thread), by default a private reactor thread
        shared by every proxy of the process (not Twisted's global reactor)."""
        from twisted.internet.threads import blockingCallFromThread

        if reactor is None:
            reactor = _private_reactor()
        blockingCallFromThread(reactor, self.start_in_reactor, reactor, port, interface)
        return self

    def stop(self) -> None:
        """Stop (from another thread than the reactor's); idempotent."""
        from twisted.internet.threads import blockingCallFromThread

        if self.reactor is None or self._stopped:
            return
        self._stopped = True
        blockingCallFromThread(self.reactor, self.stop_in_reactor)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def summary(self) -> str:
        return "xcheck: %d requests, %d divergences" % (self.requests, len(self.divergences))

    # --- waiting (from another thread) -----------------------------------------------------------

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the reactor thread and return its result."""
        from twisted.internet.threads import blockingCallFromThread

        return blockingCallFromThread(self.reactor, fn)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``predicate()``, evaluated in the reactor thread, is true."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._version
            if self.call(predicate):
                return True
            with self._cond:
                while self._version == seen:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)

    def settled(self) -> bool:
        """(Reactor thread) Nothing is left to compare: no answer, notification or close is awaited."""
        return not self._queue and self._inflight_total == 0 and not any(
            link.busy() or (link.client_closed and link.cand_state in ("open", "connecting"))
            for link in self._links.values()
        )

    def wait_settled(self, timeout: float = 10.0) -> bool:
        return self.wait_until(self.settled, timeout)

    def drop_connections(self) -> None:
        """Cut every client connection with its two server connections (sessions live on)."""
        self.call(lambda: [link.drop() for link in list(self._links.values())])

    def _changed(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()
        if self._settle_waiters and not self._settle_check:
            self._settle_check = True
            self.reactor.callLater(0, self._check_settled)  # (outside the handler that changed things)

    def _check_settled(self) -> None:
        self._settle_check = False
        if self._settle_waiters and self.settled():
            waiters, self._settle_waiters = self._settle_waiters, []
            for d in waiters:
                d.callback(True)

    # --- links -----------------------------------------------------------------------------------

    def _new_link(self, client: _ClientSide) -> Link:
        link = Link(self, next(self._numbers), client)
        self._links[id(link)] = link
        host, port = self.real_addr
        self.reactor.connectTCP(host, port, _RealFactory(link), timeout=max(self.wait_s, 1.0))
        return link

    def _connect_candidate(self, link: Link) -> None:
        link.cand_state = "connecting"
        host, port = self.cand_addr
        self.reactor.connectTCP(host, port, _CandidateFactory(link), timeout=max(self.wait_s, 1.0))

    def _forget_if_finished(self, link: Link) -> None:
        if link.finished() and link.close_check is None:
            self._links.pop(id(link), None)

    def _guarded(self, link: Link, fn: Callable, *args) -> None:
        """Run an inspection step; a bug or surprise in it stops checking this link, never its traffic."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 (reported; the bytes keep flowing)
            if link.inspecting:
                self._report(Divergence(link.label, "?", None, "", "", "",
                                        [("xcheck", "ok", "internal error: %r" % e)], "connection"))
                try:
                    link.abandon()
                except Exception:  # noqa: BLE001 (give up on this link quietly)
                    link.inspecting = False
        finally:
            self._changed()

    # --- the candidate queue: arrival order across links -----------------------------------------

    def _hold(self, link: Link, ex: Exchange | None, body: bytes) -> None:
        """A request was forwarded to the real server: keep it until its place in the real order is known."""
        held = _Held(link, ex, body, self._forwarded, self._real_notes_seen, self._max_real_zxid)
        self._forwarded += 1
        link.queued += 1
        self._held.append(held)
        if ex is None:
            self._resolve_held(held, _LAST)
            return
        ex.held = held
        if ex.timer is None:
            ex.timer = self.reactor.callLater(self.wait_s, link._real_timeout, ex)

    def _resolve(self, ex: Exchange) -> None:
        """The real server answered ``ex`` (or never will): its place in the real server's order is known."""
        held = ex.held
        if held is None or held.key is not None:
            return
        ex.held = None
        if ex.timer is not None and ex.timer.active():
            ex.timer.cancel()
        ex.timer = None
        if ex.real is None:
            key = _LAST
        elif ex.op is None:
            # A ConnectResponse has no zxid, and the session's createSession txn came after every
            # answer seen before the handshake was forwarded: if answers with later zxids have come
            # since, it is placed like a write at the latest of them, else after all of them; and
            # after the requests forwarded before it (see _settle_handshakes).
            held.hint = (self._max_real_zxid, 0 if self._max_real_zxid > held.max_zxid_before else 2)
            held.resolved_at = self._forwarded
            self._settle_handshakes()
            return
        else:
            zxid = ex.real_hdr.zxid
            if ex.op != OpCode.PING:
                self._max_real_zxid = max(self._max_real_zxid, zxid)
            key = (zxid, 0 if ex.op in _WRITE_OPS else 1)
        self._resolve_held(held, key)

    def _resolve_held(self, held: _Held, key: tuple) -> None:
        link = held.link
        held.key = link.last_key = max(key, link.last_key)  # (a connection's requests stay in order)
        held.resolved_at = self._forwarded
        self._settle_handshakes()

    def _settle_handshakes(self) -> None:
        """Place the answered handshakes whose earlier requests all have their places: after those
        (they reached the real server first), after what the candidate was already sent, and before
        the later requests of their own connection."""
        for held in [h for h in self._held if h.key is None]:
            if held.hint is None:
                break  # an earlier request is still unanswered
            before = [h.key for h in self._held if h.seq < held.seq]
            key = max([held.hint, self._released_key] + [(k[0], 2) for k in before if k[0] != _LAST[0]])
            later = [h.key for h in self._held if h.link is held.link and h.seq > held.seq and h.key is not None]
            held.key = min([key, *later])
            held.link.last_key = max(held.link.last_key, held.key)
        self._release_held()

    def _release_held(self) -> None:
        """Move to the candidate queue, in the real server's order, every held request whose place is
        certain: those forwarded after its answer came got later places, and those forwarded before
        have their places too."""
        pending = self._held
        unresolved = next((h.seq for h in pending if h.key is None), None)
        ready = sorted((h for h in pending if h.key is not None), key=lambda h: (h.key, h.seq))
        released = []
        for h in ready:
            if unresolved is not None and unresolved < h.resolved_at:
                break
            released.append(h)
        if not released:
            return
        gone = {id(h) for h in released}
        self._held = [h for h in pending if id(h) not in gone]
        self._released_key = max([self._released_key, *(h.key for h in released if h.key[0] != _LAST[0])])
        self._queue.extend((h.link, h.ex, h.body, h.notes_before) for h in released)
        self._pump()

    def _pump(self) -> None:
        q = self._queue
        while q:
            link, ex, body, notes_before = q[0]
            if link.cand_state in ("closed", "failed") or link.cand_closed is not None:
                q.popleft()
                link.queued -= 1
                if ex is not None and not ex.done and ex.cand_missing is None:
                    ex.cand_missing = "unmirrored"
                    self.unmirrored += 1
                    link._maybe_complete(ex)
                continue
            if self._inflight_total - link.inflight > 0 or link.cand_state != "open":
                return  # the candidate still owes another link an answer, or is not connected yet
            if self._oldest_unpaired_real_note() < notes_before:
                return  # the client may be acting on a watch event the candidate has not sent yet
            q.popleft()
            link.queued -= 1
            link.cand.transport.write(frame(link.translate(ex, body)))
            if ex is not None:
                ex.inflight = True
                link.inflight += 1
                self._inflight_total += 1
                if ex.timer is None:
                    ex.timer = self.reactor.callLater(self.wait_s, link.cand_timeout, ex)

    def _oldest_unpaired_real_note(self) -> float:
        return min((link.real_notes[0][2] for link in self._links.values() if link.real_notes), default=float("inf"))

    def _release(self, ex: Exchange) -> None:
        ex.inflight = False
        ex.link.inflight -= 1
        self._inflight_total -= 1
        if ex.timer is not None and ex.real is None and ex.timer.active():
            ex.timer.cancel()  # (re-armed as the wait for the real answer, if need be)
            ex.timer = None
        self._pump()

    # --- zxid translation ------------------------------------------------------------------------

    def _pair_zxids(self, zr: int, zc: int) -> None:
        if zr <= 0 or zc <= 0:
            return
        if self._zxids_real and (zr <= self._zxids_real[-1] or zc <= self._zxids_cand[-1]):
            return
        self._zxids_real.append(zr)
        self._zxids_cand.append(zc)
        if len(self._zxids_real) > _ZXID_PAIRS_MAX:  # only recent history is asked about
            del self._zxids_real[: _ZXID_PAIRS_MAX // 2]
            del self._zxids_cand[: _ZXID_PAIRS_MAX // 2]

    def translate_zxid(self, z: int) -> int:
        """The candidate's zxid for the real server's ``z``: the partner of the newest paired zxid <= z."""
        if z <= 0:
            return z
        i = bisect.bisect_right(self._zxids_real, z) - 1
        return self._zxids_cand[i] if i >= 0 else 0

    # --- comparing -------------------------------------------------------------------------------

    def _new_norms(self) -> tuple[StreamNormalizer, StreamNormalizer]:
        return (StreamNormalizer(self._real_labels, self._window, self.anchors, reference=True),
                StreamNormalizer(self._cand_labels, self._window, self.anchors, reference=False))

    def _bind_session(self, link: Link, real: dict, cand: dict | None) -> None:
        """After a handshake: pair the two sessions (first time) and use the session's normalisers."""
        sid = real.get("session_id")
        if not sid:
            return
        pair = self.sessions.get(sid)
        if pair is None and cand is not None and cand.get("session_id"):
            cid = cand["session_id"]
            n = next(self._pair_numbers)
            label = "session#%d" % n
            self._real_labels.identities.setdefault(sid, label)
            if cid not in self._cand_labels.identities:
                self._cand_labels.identities[cid] = label
            rp, cp = real.get("passwd") or b"", cand.get("passwd") or b""
            if any(rp):
                self._real_labels.passwords.setdefault(rp, "passwd#%d" % n)
            if any(cp) and cp not in self._cand_labels.passwords:
                self._cand_labels.passwords[cp] = "passwd#%d" % n
            pair = self.sessions[sid] = _SessionPair(label, sid, cid, rp, cp, link.norms)
        if pair is not None:
            link.pair = pair
            link.norms = pair.norms

    def _forget_session(self, pair: _SessionPair) -> None:
        """A session both servers closed: nothing will name it again."""
        if self.sessions.get(pair.real_id) is pair:
            del self.sessions[pair.real_id]
            self._real_labels.identities.pop(pair.real_id, None)
            self._cand_labels.identities.pop(pair.cand_id, None)
            self._real_labels.passwords.pop(pair.real_passwd, None)
            self._cand_labels.passwords.pop(pair.cand_passwd, None)

    def _complete(self, ex: Exchange) -> None:
        try:
            self._judge(ex)
        finally:
            ex.real = ex.cand = None  # (history keeps what an exchange was, not its data)
            self.history.append(ex)

    def _judge(self, ex: Exchange) -> None:
        link = ex.link
        if link.dropped or ex.cand_missing == "unmirrored" or ex.real_missing == "dropped":
            return
        if ex.real is None and ex.cand is None:
            return  # neither answered: they agree
        if ex.after_close and (_expired_or_unanswered(ex.real) or _expired_or_unanswered(ex.cand)):
            # ZooKeeper itself answers these normally, SESSIONEXPIRED or not at all, by timing; a
            # transaction only the real server made moves the real side of the anchors on
            if ex.op in _WRITE_OPS and ex.cand is None and ex.real_hdr is not None and ex.real_hdr.err == 0:
                self.anchors.add_real_only(ex.real_hdr.zxid)
            return
        if ex.real is None or ex.cand is None:
            real = _render_answer(ex.real) if ex.real is not None else "(no answer: %s)" % ex.real_missing
            cand = _render_answer(ex.cand) if ex.cand is not None else "(no answer: %s)" % ex.cand_missing
            self._report(Divergence(link.label, ex.op_label, ex.xid, ex.summary, real, cand,
                                    [("answer", "present" if ex.real is not None else "(absent)",
                                      "present" if ex.cand is not None else "(absent)")],
                                    "connect" if ex.op is None else "reply"))
            if ex.op is None and ex.real is not None:
                self._bind_session(link, ex.real, None)
            return
        kind = "reply"
        if ex.op is None:
            kind = "connect"
            self._bind_session(link, ex.real, ex.cand)
        elif ex.real_hdr is not None and ex.cand_hdr is not None and ex.op != OpCode.PING:
            self._pair_zxids(ex.real_hdr.zxid, ex.cand_hdr.zxid)
        real, cand = ex.real, ex.cand
        if kind == "reply" and ex.op not in _WRITE_OPS:
            # a read's zxid is the server's latest, which counts transactions the proxy cannot put in
            # order (createSession, and what each server does on its own): not compared
            real, cand = dict(real, zxid="(latest)"), dict(cand, zxid="(latest)")
        elif kind == "reply" and ex.op == OpCode.CLOSE_SESSION:
            # a session's end races with other sessions' starts, whose createSession zxids no answer
            # carries: its distance from the last common write may differ by those (still an anchor)
            real, cand = dict(real, zxid="(session end)"), dict(cand, zxid="(session end)")
        self._compare(link, kind, ex.op_label, ex.xid, ex.summary, real, cand)
        if kind == "reply" and ex.op in _WRITE_OPS and ex.op != OpCode.CLOSE_SESSION \
                and ex.real_hdr is not None and ex.cand_hdr is not None:
            # (after the comparison: it is checked too).  A closeSession is no anchor: its zxid may sit
            # on different sides of another session's createSession on the two servers
            self.anchors.add(ex.real_hdr.zxid, ex.cand_hdr.zxid)
        if ex.op == OpCode.CLOSE_SESSION and link.pair is not None and ex.real_hdr is not None \
                and ex.real_hdr.err == 0 and ex.cand_hdr is not None and ex.cand_hdr.err == 0:
            self._forget_session(link.pair)

    def _compare_notifications(self, link: Link, real: dict, cand: dict) -> None:
        self._compare(link, "notification", "notification", Xid.NOTIFICATION, "watch event", real, cand)

    def _compare(self, link: Link, kind: str, op: str, xid, summary: str, real: dict, cand: dict) -> None:
        self.compared += 1
        rn, cn = link.norms
        a = NormEvent(kind, link.label, rn.feed(real))
        b = NormEvent(kind, link.label, cn.feed(cand))
        diffs = compare_events(0, 0, a, b)
        if diffs:
            self._report(Divergence(link.label, op, xid, summary, _render_answer(real), _render_answer(cand),
                                    [(d.field, d.real, d.ours) for d in diffs], kind))

    def _report(self, div: Divergence) -> None:
        self.divergences.append(div)
        if self.log is not None:
            line = json.dumps(div.to_json(), default=repr) if self.json_lines else div.to_text()
            try:
                self.log.write(line + "\n")
                self.log.flush()
            except (OSError, ValueError):
                pass


# --- command line ----------------------------------------------------------------------------------


def _host_port(text: str, *, default_host: str | None = None) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        if default_host is None:
            raise argparse.ArgumentTypeError("expected HOST:PORT, not %r" % text)
        host, port = default_host, text
    try:
        return host.strip("[]") or (default_host or "127.0.0.1"), int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad port in %r" % text) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zkcompat xcheck",
        description="Serve ZooKeeper clients from a real ZooKeeper and cross-check every answer against a "
                    "candidate server; log each divergence.")
    p.add_argument("--listen", required=True, metavar="[HOST:]PORT",
                   type=lambda s: _host_port(s, default_host="127.0.0.1"),
                   help="where clients connect (default host 127.0.0.1; port 0 picks a free one)")
    p.add_argument("--real", required=True, metavar="HOST:PORT", type=_host_port,
                   help="the reference Apache ZooKeeper (clients are served from it)")
    p.add_argument("--candidate", required=True, metavar="HOST:PORT", type=_host_port,
                   help="the server cross-checked (zkcompat)")
    p.add_argument("--log", metavar="FILE", help="write divergences to FILE instead of stderr")
    p.add_argument("--json", action="store_true", help="one JSON object per divergence")
    p.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                   help="how long one side may lag the other (default %(default)s)")
    return p


def main(argv: list[str]) -> int:
    """``zkcompat xcheck``: run the proxy on Twisted's reactor until SIGINT/SIGTERM; 0 when stopped so."""
    args = build_parser().parse_args(argv)
    with contextlib.ExitStack() as stack:
        try:
            out = stack.enter_context(open(args.log, "a", encoding="utf-8")) if args.log else sys.stderr
        except OSError as e:
            sys.stderr.write("xcheck: cannot open the log: %s\n" % e)
            return 2
        return _run(args, out)


def _run(args, out: TextIO) -> int:
    from twisted.internet import reactor

    proxy = XCheckProxy(args.real, args.candidate, wait_s=args.wait, log=out, json_lines=args.json)
    host, port = args.listen
    try:
        proxy.start_in_reactor(reactor, port, host)
    except Exception as e:  # noqa: BLE001 (CannotListenError and friends)
        sys.stderr.write("xcheck: cannot listen on %s:%d: %s\n" % (host, port, e))
        return 1
    sys.stderr.write("xcheck: listening on %s:%d (real %s:%d, candidate %s:%d)\n"
                     % (host, proxy.port, *args.real, *args.candidate))
    sys.stderr.flush()
    reactor.addSystemEventTrigger("before", "shutdown", proxy.stop_in_reactor)
    reactor.run()  # until SIGINT or SIGTERM (Twisted's own handlers stop it)
    summary = proxy.summary()
    if args.json:
        out.write(json.dumps({"summary": summary, "requests": proxy.requests,
                              "divergences": len(proxy.divergences)}) + "\n")
    elif out is not sys.stderr:
        out.write(summary + "\n")
    out.flush()
    sys.stderr.write(summary + "\n")
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
