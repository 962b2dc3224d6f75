"""Faults for the in-process test doubles: request faults, paused members, network partitions.

Theory of operation
-------------------
``RequestFaults`` gives one server ZooKeeperServerController's request
actions, as its ControllableConnection applies them to each request read from
an established connection (pings excepted, see below):

- fail (FAILREQUESTS n): the request is not processed; its answer is a reply
  header with the request's xid, zxid 0 and error APIERROR (-100), no body,
  sent at once;
- no response (NORESPONSE n): the request is processed as usual but its reply
  is never sent (later replies still are, so the client sees a gap);
- delay (ADDDELAY ms): every request waits ``ms`` before it is processed; the
  requests of one connection stay in order.

It sits on the core's ``Connection.request_hook`` and, for "no response", on a
transport wrapper that drops the reply frames of chosen xids; timers go through
the server's injected clock.  Unlike ZooKeeper's controller, pings are never
failed or left unanswered, so the counts mean the client's own requests, not
whenever kazoo's ping timer happens to fire.

``MemberReactor`` is the reactor one ensemble member sees.  It forwards to the
shared reactor, but remembers every connection, listener and timer of the
member, so that the member can be:

- paused, as a stopped JVM is (SIGSTOP): its sockets are no longer read (the
  kernel still accepts connections and buffers bytes), its timers wait, and
  the connections it was opening fail (it learns so once resumed);
  ``resume`` reads again and runs the timers that fell due meanwhile;
- cut off from other members (a partition): the connections between the
  groups are no longer read (TCP keeps them open and silent, as a partition
  does), and new connections across (and those being opened) fail at once,
  as through a firewall that rejects; ``heal`` reads them again,
  and whatever was written meanwhile arrives late, as TCP would deliver it;
- killed: every connection is aborted (RST), timers and late callbacks are
  dropped, nothing of the member runs again.

Client connections stay up through a partition: the member's own logic
(syncLimit, loss of quorum) decides when its clients are dropped, as in
ZooKeeper.
"""

from __future__ import annotations

import logging
import struct
import weakref
from collections import deque

from twisted.internet import error
from twisted.python import failure

from protocol.codes import Err, OpCode

log = logging.getLogger("zkcompat.testing")

_HDR = struct.Struct(">ii")  # a request's xid and type
_REPLY_XID = struct.Struct(">i")


# --- request faults ------------------------------------------------------------------------------


class _ReplyFilter:
    """The core's transport of one connection, leaving out the replies to chosen xids."""

    __slots__ = ("inner", "drop_xids", "_first")

    def __init__(self, inner):
        self.inner = inner
        self.drop_xids: set[int] = set()
        self._first = True  # the first frame written is the ConnectResponse (or a 4lw answer)

    def write(self, data: bytes) -> None:
        first, self._first = self._first, False
        if not self.drop_xids:
            self.inner.write(data)
            return
        # the core writes whole frames, several per write: keep all but the dropped replies
        kept = []
        pos = 0
        end = len(data)
        while pos + 8 <= end:
            length = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            stop = pos + 4 + length
            xid = _REPLY_XID.unpack_from(data, pos + 4)[0]
            if first or xid not in self.drop_xids:
                kept.append(data[pos:stop])
            else:
                self.drop_xids.discard(xid)
                log.warning("not answering request xid %d (drop_requests)", xid)
            first = False
            pos = stop
        kept.append(data[pos:])
        out = b"".join(kept)
        if out:
            self.inner.write(out)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name):
        return getattr(self.inner, name)


class RequestFaults:
    """Fail, leave unanswered or delay the requests that reach one ZooKeeperServer."""

    def __init__(self, server):
        from zkcompat.core import server as core

        self.server = server
        self.clock = server.clock
        self.delay_ms = 0
        self.fail_count = 0
        self.drop_count = 0
        self._connected = core.CONNECTED
        self._delayed: dict = {}  # Connection -> deque of (due ms, frame)
        original = server.connection_made

        def connection_made(transport, remote_ip, remote_port):
            conn = original(_ReplyFilter(transport), remote_ip, remote_port)
            if conn is not None:
                conn.request_hook = self._intake
            return conn

        server.connection_made = connection_made

    def reset(self) -> None:
        """ZooKeeperServerController's RESET: no more faults (requests already delayed still wait)."""
        self.delay_ms = self.fail_count = self.drop_count = 0

    def _intake(self, conn, frame: bytes) -> bool:
        if len(frame) < 8:
            return False  # the core closes the connection on a malformed header
        xid, op = _HDR.unpack_from(frame, 0)
        if op != OpCode.PING and self.fail_count > 0:
            self.fail_count -= 1
            log.warning("failing request xid %d type %d with APIERROR (fail_requests)", xid, op)
            conn.send_reply(xid, 0, Err.APIERROR)
            return True
        queue = self._delayed.get(conn)
        if queue is not None or self.delay_ms > 0:
            if queue is None:
                queue = self._delayed[conn] = deque()
                self.clock.call_later(self.delay_ms, lambda: self._release(conn))
            queue.append((self.clock.now_ms() + self.delay_ms, frame))
            return True
        self._mark_dropped(conn, xid, op)
        return False

    def _mark_dropped(self, conn, xid: int, op: int) -> None:
        if op != OpCode.PING and self.drop_count > 0:
            self.drop_count -= 1
            conn.transport.drop_xids.add(xid)

    def _release(self, conn) -> None:
        queue = self._delayed.get(conn)
        if queue is None:
            return
        now = self.clock.now_ms()
        while queue and queue[0][0] <= now:
            _, frame = queue.popleft()
            if conn.state != self._connected:
                queue.clear()
                break
            xid, op = _HDR.unpack_from(frame, 0)
            self._mark_dropped(conn, xid, op)
            conn._packet(frame)
        if queue:
            self.clock.call_later(max(0, queue[0][0] - now), lambda: self._release(conn))
        else:
            del self._delayed[conn]
        self.server.flush()


# --- one member's view of the reactor ------------------------------------------------------------------


class MemberReactor:
    """The shared reactor as one ensemble member sees it: pausable, partitionable, killable."""

    def __init__(self, reactor, sid: int, links: Links):
        self._reactor = reactor
        self.sid = sid
        self.links = links
        self.paused = False
        self.dead = False
        self._held: list = []  # calls that fell due while paused
        self._calls: list = []  # our DelayedCalls, to cancel on kill
        self._protocols: weakref.WeakSet = weakref.WeakSet()
        self._listeners: list = []
        self._cut: weakref.WeakSet = weakref.WeakSet()  # transports not read because of a partition
        self._connectors: weakref.WeakSet = weakref.WeakSet()

    def __getattr__(self, name):
        return getattr(self._reactor, name)

    # --- timers ---------------------------------------------------------------------------------

    def callLater(self, delay, fn, *args, **kwargs):
        self._calls = [c for c in self._calls if c.active()]
        call = self._reactor.callLater(delay, self._gate, fn, args, kwargs)
        self._calls.append(call)
        return call

    def _gate(self, fn, args, kwargs):
        if self.dead:
            return None
        if self.paused:
            self._held.append((fn, args, kwargs))
            return None
        return fn(*args, **kwargs)

    # --- connections ----------------------------------------------------------------------------

    def _track(self, factory, target: int | None):
        build = factory.buildProtocol

        def tracked(addr):
            if self.dead:
                return None
            p = build(addr)
            if p is not None:
                self._protocols.add(p)
                if target is not None:
                    p._zkcompat_target = target
            return p

        factory.buildProtocol = tracked
        failed = getattr(factory, "clientConnectionFailed", None)
        if failed is not None:
            factory.clientConnectionFailed = lambda connector, reason: self._gate(failed, (connector, reason), {})
        return factory

    def listen_held(self, held, factory):
        listener = held.listen(self._reactor, self._track(factory, None))
        self._listeners.append(listener)
        if self.paused:
            listener.stopReading()
        return listener

    def listenTCP(self, port, factory, backlog=50, interface=""):
        listener = self._reactor.listenTCP(port, self._track(factory, None), backlog, interface)
        self._listeners.append(listener)
        return listener

    def connectTCP(self, host, port, factory, timeout=30, bindAddress=None):
        target = self.links.owner_of_port(port)
        self._track(factory, target)
        if self.dead or (target is not None and not self.links.connected(self.sid, target)):
            # a cut link, as a firewall that rejects: the connection attempt fails at once
            reason = failure.Failure(error.ConnectionRefusedError("partitioned from server %s" % target))
            self._reactor.callLater(0, factory.clientConnectionFailed, None, reason)
            return None
        connector = self._reactor.connectTCP(host, port, factory, timeout, bindAddress)
        self._connectors.add(connector)
        return connector

    def transports(self):
        for p in list(self._protocols):
            t = getattr(p, "transport", None)
            if t is not None and getattr(t, "connected", False) and not getattr(t, "disconnected", False):
                yield p, t

    def _readable(self, t) -> bool:
        return not self.paused and not self.dead and t not in self._cut

    def _refresh(self, t) -> None:
        if self._readable(t):
            t.startReading()
        else:
            t.stopReading()

    # --- controls -----------------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True
        for connector in list(self._connectors):
            if connector.state == "connecting":
                # the member would only learn the outcome once resumed: it learns of a failure then
                connector.stopConnecting()
        for _, t in self.transports():
            t.stopReading()
        for listener in self._listeners:
            listener.stopReading()

    def resume(self) -> None:
        self.paused = False
        for _, t in self.transports():
            self._refresh(t)
        for listener in self._listeners:
            listener.startReading()
        held, self._held = self._held, []
        for fn, args, kwargs in held:
            self._reactor.callLater(0, self._gate, fn, args, kwargs)

    def cut(self, transport) -> None:
        self._cut.add(transport)
        transport.stopReading()

    def uncut_all(self) -> None:
        cut = list(self._cut)
        self._cut = weakref.WeakSet()
        for t in cut:
            if getattr(t, "connected", False) and not getattr(t, "disconnected", False):
                self._refresh(t)

    def kill(self) -> None:
        """Nothing of this member runs again: connections aborted (RST), timers dropped."""
        self.dead = True
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []
        self._held = []
        for _, t in self.transports():
            t.abortConnection()


class Links:
    """Which members may talk to which, and whose port is whose (shared by an ensemble's MemberReactors)."""

    def __init__(self):
        self.members: dict[int, MemberReactor] = {}
        self._port_owner: dict[int, int] = {}
        self._group: dict[int, int] = {}  # sid -> partition group; empty when healed

    def own_ports(self, sid: int, ports) -> None:
        for p in ports:
            self._port_owner[p] = sid

    def owner_of_port(self, port: int) -> int | None:
        return self._port_owner.get(port)

    def connected(self, a: int, b: int) -> bool:
        if not self._group or a == b:
            return True
        return self._group.get(a) == self._group.get(b)

    def partition(self, groups: list[list[int]]) -> None:
        """Cut every link between members of different groups (a member in no group is alone)."""
        self.heal()
        group = {}
        for i, g in enumerate(groups):
            for sid in g:
                if sid in group:
                    raise ValueError("server %d is in two groups" % sid)
                group[sid] = i
        for sid in self.members:
            group.setdefault(sid, len(groups))  # the members named nowhere stay together
        self._group = group
        # which member holds each end of a connection, by (local port, remote port): all on loopback
        ends: dict[tuple[int, int], int] = {}
        for sid, mr in self.members.items():
            for _, t in mr.transports():
                ends[(t.getHost().port, t.getPeer().port)] = sid
        for sid, mr in self.members.items():
            if mr.dead:
                continue
            for connector in list(mr._connectors):
                target = self.owner_of_port(connector.port)
                if connector.state == "connecting" and target is not None and not self.connected(sid, target):
                    connector.stopConnecting()  # it fails, as a new connection across would
            for p, t in mr.transports():
                remote = getattr(p, "_zkcompat_target", None)
                if remote is None:
                    remote = ends.get((t.getPeer().port, t.getHost().port))
                    if remote is None or remote == sid:
                        continue  # a client's connection
                if not self.connected(sid, remote):
                    mr.cut(t)

    def heal(self) -> None:
        self._group = {}
        for mr in self.members.values():
            if not mr.dead:
                mr.uncut_all()
