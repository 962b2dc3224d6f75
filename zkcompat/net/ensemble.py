"""The ensemble's network edge: election and quorum channels on Twisted, in ZooKeeper's wire formats.

Theory of operation
-------------------
``QuorumNet`` is the ``PeerTransport`` of one ``QuorumPeer``.

Election channel (QuorumCnxManager): every pair of servers keeps one TCP
connection between their election ports.  The side that connects sends an
initial message (protocol version, its sid, its election address); only a
connection opened by the larger sid survives, so a smaller sid that connects
announces itself and hangs up, and the larger one connects back.  Messages are
length-prefixed notifications (protocol.election).  A notification for a peer
with no connection waits (the newest one per peer) while we connect.

Quorum channel (Leader / Learner): while leading, the server listens on its
quorum port; a learner connects there and speaks QuorumPackets written back to
back (protocol.quorum), the SNAP of a sync followed by the snapshot body.
``to_wire``/``from_wire`` translate the core's ``Packet`` objects.

Nothing here decides anything: bytes in, core calls; core calls, bytes out.
"""

from __future__ import annotations

import logging

from twisted.internet import protocol

from protocol import election as ew
from protocol import quorum as qw
from protocol.records import Id
from zkcompat.core.config import ServerConfig
from zkcompat.core.zab.election import Notification
from zkcompat.core.zab.packets import Packet, PacketType
from zkcompat.core.zab.peer import QuorumPeer

log = logging.getLogger("zkcompat.net.ensemble")

CONNECT_TIMEOUT_S = 5
LEARNER_CONNECT_DELAY_S = 0.1  # Learner.connectToLeader: leaderConnectDelayDuringRetryMs between tries


# --- translating packets ------------------------------------------------------------------------


def to_wire(p: Packet, config_text: bytes) -> bytes:
    """A core Packet as the bytes ZooKeeper would send."""
    t = p.type
    if t in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
        qp = qw.learner_info_packet(t, p.epoch, p.sid, 0)
    elif t == PacketType.LEADERINFO:
        qp = qw.leader_info_packet(p.epoch)
    elif t == PacketType.ACKEPOCH:
        qp = qw.ack_epoch_packet(p.epoch, p.zxid)
    elif t == PacketType.DIFF:
        qp = qw.diff_packet(p.zxid)
    elif t == PacketType.TRUNC:
        qp = qw.trunc_packet(p.zxid)
    elif t == PacketType.SNAP:
        return qw.encode_packet(qw.snap_packet(p.zxid)) + p.snapshot + _ustring(qw.SNAP_SIGNATURE)
    elif t == PacketType.PROPOSAL:
        qp = qw.proposal_packet(qw.TxnEntry(p.hdr, p.txn))
    elif t == PacketType.INFORM:
        qp = qw.inform_packet(p.zxid, qw.encode_txn_entry(p.hdr, p.txn))
    elif t == PacketType.COMMIT:
        qp = qw.commit_packet(p.zxid)
    elif t == PacketType.ACK:
        qp = qw.ack_packet(p.zxid)
    elif t == PacketType.NEWLEADER:
        qp = qw.new_leader_packet(p.epoch, config_text)
    elif t == PacketType.UPTODATE:
        qp = qw.uptodate_packet()
    elif t == PacketType.PING:
        qp = qw.packet(PacketType.PING, p.zxid, qw.encode_touches(p.touches) if p.touches else None)
    elif t == PacketType.REQUEST:
        session_id, cxid, op, body, auth = p.request
        ids = [Id(scheme, ident) for scheme, ident in auth] or None
        qp = qw.request_packet(qw.LearnerRequest(session_id, cxid, op, body or b"", ids))
    elif t == PacketType.REVALIDATE:
        if p.timeout:
            qp = qw.revalidate_packet(p.session_id, p.timeout)
        else:
            qp = qw.revalidate_reply_packet(qw.packet(PacketType.REVALIDATE, -1), p.session_id, p.valid)
    elif t == PacketType.SYNC:
        qp = qw.sync_packet()
    else:
        raise ValueError("no wire form for %r" % (t,))
    return qw.encode_packet(qp)


def from_wire(item, from_leader: bool) -> Packet | None:
    """A decoded QuorumPacket (or SNAP body) as a core Packet; None for what the core ignores."""
    if isinstance(item, qw.SnapshotPayload):
        return Packet(PacketType.SNAP, snapshot=qw.encode_snapshot_payload(item)[: -len(_ustring(item.signature))])
    t = item.type
    if t in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
        info = qw.parse_learner_info(item)
        return Packet(PacketType(t), epoch=info.accepted_epoch, sid=info.sid or 0)
    if t == PacketType.LEADERINFO:
        epoch, _ = qw.parse_leader_info(item)
        return Packet(PacketType.LEADERINFO, item.zxid, epoch=epoch)
    if t == PacketType.ACKEPOCH:
        epoch, last = qw.parse_ack_epoch(item)
        return Packet(PacketType.ACKEPOCH, last, epoch=epoch)
    if t in (PacketType.DIFF, PacketType.TRUNC, PacketType.COMMIT, PacketType.ACK, PacketType.UPTODATE,
             PacketType.SYNC):
        return Packet(PacketType(t), item.zxid)
    if t == PacketType.SNAP:
        return None  # the body that follows is the packet that matters
    if t in (PacketType.PROPOSAL, PacketType.INFORM):
        entry = qw.parse_proposal(item)
        return Packet(PacketType(t), entry.hdr.zxid, hdr=entry.hdr, txn=entry.txn)
    if t == PacketType.NEWLEADER:
        epoch, _ = qw.parse_new_leader(item)
        return Packet(PacketType.NEWLEADER, item.zxid, epoch=epoch)
    if t == PacketType.PING:
        touches = {} if from_leader or item.data is None else dict(qw.parse_ping_touches(item))
        return Packet(PacketType.PING, item.zxid, touches=touches)
    if t == PacketType.REQUEST:
        req = qw.parse_request(item)
        auth = [(i.scheme, i.id) for i in (req.authinfo or [])]
        return Packet(PacketType.REQUEST, request=(req.session_id, req.cxid, req.type, req.request, auth))
    if t == PacketType.REVALIDATE:
        if from_leader:
            session_id, valid = qw.parse_revalidate_reply(item)
            return Packet(PacketType.REVALIDATE, session_id=session_id, valid=valid)
        session_id, timeout = qw.parse_revalidate(item)
        return Packet(PacketType.REVALIDATE, session_id=session_id, timeout=timeout)
    return None


def _ustring(s: str) -> bytes:
    b = s.encode("utf-8")
    return len(b).to_bytes(4, "big", signed=True) + b


# --- the election channel ------------------------------------------------------------------------


class _ElectionConnection(protocol.Protocol):
    def __init__(self, net: QuorumNet, outgoing_to: int | None):
        self.net = net
        self.outgoing_to = outgoing_to  # the sid we connected to, or None when we accepted
        self.peer_sid: int | None = outgoing_to
        self.decoder = ew.ElectionStreamDecoder(initial_message=outgoing_to is None)

    def connectionMade(self):
        if self.outgoing_to is not None:
            self.transport.write(self.net.initial_message())
            if not ew.connection_survives(self.net.sid, self.outgoing_to):
                # the larger sid must connect: it now knows we want to talk and will call back
                self.transport.loseConnection()
                return
            self.net._election_connected(self.outgoing_to, self)

    def dataReceived(self, data):
        try:
            items = self.decoder.feed(data)
        except ew.ElectionFrameError as e:
            log.warning("election channel from %s: %s; closing", self.peer_sid, e)
            self.transport.abortConnection()
            return
        for item in items:
            if isinstance(item, ew.InitialMessage):
                sid = item.sid
                if sid == self.net.sid:
                    # QuorumCnxManager.handleConnection warns too; calling "back" would connect to
                    # ourselves again at once, forever (two servers configured at one address)
                    log.warning("an election connection announced our own id %d: a configuration error (two "
                                "servers at one election address?); closing it", sid)
                    self.transport.loseConnection()
                    return
                self.peer_sid = sid
                if not ew.connection_survives(sid, self.net.sid):
                    self.transport.loseConnection()
                    self.net.connect_election(sid)
                    return
                self.net._election_connected(sid, self)
                continue
            if self.peer_sid is None:
                continue
            try:
                n = ew.decode_notification(item)
            except ew.NotificationError as e:
                log.warning("dropping a malformed notification from %d: %s", self.peer_sid, e)
                continue
            self.net._notification(self.peer_sid, n)

    def connectionLost(self, reason=protocol.connectionDone):
        self.net._election_lost(self.peer_sid, self)


class _ElectionFactory(protocol.Factory):
    def __init__(self, net: QuorumNet):
        self.net = net

    def buildProtocol(self, addr):
        return _ElectionConnection(self.net, None)


class _ElectionClientFactory(protocol.ClientFactory):
    def __init__(self, net: QuorumNet, sid: int):
        self.net = net
        self.sid = sid

    def buildProtocol(self, addr):
        return _ElectionConnection(self.net, self.sid)

    def clientConnectionFailed(self, connector, reason):
        self.net._election_connect_failed(self.sid)


# --- the quorum channel ------------------------------------------------------------------------------


class _QuorumConnection(protocol.Protocol):
    """One leader<->learner connection; ``from_leader`` tells which side's bytes we read."""

    def __init__(self, net: QuorumNet, learner_side: bool):
        self.net = net
        self.learner_side = learner_side
        self.learner_sid: int | None = None
        self.decoder = qw.QuorumStreamDecoder(from_leader=learner_side)
        self.closed = False

    def connectionMade(self):
        try:
            self.transport.setTcpNoDelay(True)
        except (AttributeError, OSError):
            pass
        if self.learner_side:
            self.net._leader_connected(self)

    def send(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def dataReceived(self, data):
        try:
            items = self.decoder.feed(data)
        except qw.QuorumProtocolError as e:
            log.warning("quorum channel: %s; closing", e)
            self.transport.abortConnection()
            return
        peer = self.net.peer
        for item in items:
            try:
                p = from_wire(item, from_leader=self.learner_side)
            except qw.QuorumProtocolError as e:
                log.warning("quorum channel: bad packet: %s; closing", e)
                self.transport.abortConnection()
                return
            if p is None:
                continue
            if self.learner_side:
                peer.leader_packet(p)
            else:
                if self.learner_sid is None:
                    if p.type not in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO) or not p.sid:
                        log.warning("quorum channel: a learner must introduce itself first; closing")
                        self.transport.abortConnection()
                        return
                    self.learner_sid = p.sid
                    self.net._learner_connected(p.sid, self)
                peer.learner_packet(self.learner_sid, p)
            if self.closed:
                return
        self.net.server_flush()

    def connectionLost(self, reason=protocol.connectionDone):
        if self.closed:
            return
        self.closed = True
        if self.learner_side:
            self.net._leader_lost(self)
        elif self.learner_sid is not None:
            self.net._learner_lost(self.learner_sid, self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()


class _LeaderFactory(protocol.Factory):
    def __init__(self, net: QuorumNet):
        self.net = net

    def buildProtocol(self, addr):
        return _QuorumConnection(self.net, learner_side=False)


class _LearnerFactory(protocol.ClientFactory):
    def __init__(self, net: QuorumNet, leader: int, attempt: int):
        self.net = net
        self.leader = leader
        self.attempt = attempt

    def buildProtocol(self, addr):
        return _QuorumConnection(self.net, learner_side=True)

    def clientConnectionFailed(self, connector, reason):
        self.net._learner_connect_failed(self.leader, self.attempt)


# --- the transport -------------------------------------------------------------------------------------


class QuorumNet:
    """The network of one ensemble member: implements the core's PeerTransport."""

    def __init__(self, reactor, config: ServerConfig, sid: int, listen=None):
        self.reactor = reactor
        # listen(kind, port, factory, interface) opens the "election" and "quorum" ports (member.start_member)
        self._listen = listen or (lambda kind, port, factory, interface: reactor.listenTCP(port, factory,
                                                                                           interface=interface))
        self.config = config
        self.sid = sid
        self.me = config.servers[sid]
        self.peer: QuorumPeer | None = None
        self._election: dict[int, _ElectionConnection] = {}
        self._election_pending: dict[int, bytes] = {}
        self._election_connecting: set[int] = set()
        self._election_port = None
        self._quorum_port = None
        self._learners: dict[int, _QuorumConnection] = {}
        self._leader_conn: _QuorumConnection | None = None
        self._leader_target: int | None = None
        self.config_text = ew.format_config(
            {s: "%s:%d:%d:%s" % (q.host, q.quorum_port, q.election_port, q.role)
             for s, q in sorted(config.servers.items())}, 0)

    def start(self, peer: QuorumPeer) -> None:
        self.peer = peer
        host = self.me.host if self.me.host not in ("", "0.0.0.0") else ""
        self._election_port = self._listen("election", self.me.election_port, _ElectionFactory(self), host)
        peer.on_state_change = self._state_changed

    def stop(self) -> None:
        for conn in list(self._election.values()):
            conn.transport.loseConnection()
        for conn in list(self._learners.values()):
            conn.close()
        if self._leader_conn is not None:
            self._leader_conn.close()
        for port in (self._election_port, self._quorum_port):
            if port is not None:
                port.stopListening()
        self._election_port = self._quorum_port = None

    def server_flush(self) -> None:
        if self.peer is not None:
            self.peer.server.flush()

    # --- election ----------------------------------------------------------------------------------

    def initial_message(self) -> bytes:
        return ew.encode_initial_message(ew.InitialMessage(self.sid, ((self.me.host, self.me.election_port),)))

    def send_notification(self, to_sid: int, n: Notification) -> None:
        if to_sid == self.sid:
            self.reactor.callLater(0, self.peer.receive_notification, n)
            return
        body = ew.encode_notification(ew.Notification(int(n.state), n.leader, n.zxid, n.election_epoch,
                                                       n.peer_epoch, ew.NOTIFICATION_VERSION, n.config or b""))
        frame = ew.frame_message(body)
        conn = self._election.get(to_sid)
        if conn is not None:
            conn.transport.write(frame)
            return
        self._election_pending[to_sid] = frame  # only the newest vote matters
        self.connect_election(to_sid)

    def connect_election(self, sid: int) -> None:
        if (sid == self.sid or sid in self._election or sid in self._election_connecting
                or sid not in self.config.servers):
            return
        q = self.config.servers[sid]
        self._election_connecting.add(sid)
        self.reactor.connectTCP(q.host, q.election_port, _ElectionClientFactory(self, sid), timeout=CONNECT_TIMEOUT_S)

    def _election_connected(self, sid: int, conn: _ElectionConnection) -> None:
        self._election_connecting.discard(sid)
        old = self._election.get(sid)
        if old is not None and old is not conn:
            old.transport.loseConnection()
        self._election[sid] = conn
        frame = self._election_pending.pop(sid, None)
        if frame is not None:
            conn.transport.write(frame)

    def _election_lost(self, sid, conn) -> None:
        if sid is not None:
            self._election_connecting.discard(sid)
            if self._election.get(sid) is conn:
                del self._election[sid]

    def _election_connect_failed(self, sid: int) -> None:
        self._election_connecting.discard(sid)

    def _notification(self, sid: int, w: ew.Notification) -> None:
        from zkcompat.core.zab.election import ServerState

        try:
            state = ServerState(w.state)
        except ValueError:
            return
        self.peer.receive_notification(Notification(w.leader, w.zxid, w.election_epoch, state, sid, w.peer_epoch,
                                                    w.config or b""))
        self.server_flush()

    # --- quorum: the leader side -------------------------------------------------------------------

    def _state_changed(self, state) -> None:
        from zkcompat.core.zab.election import ServerState

        if state == ServerState.LEADING:
            if self._quorum_port is None:
                host = self.me.host if self.me.host not in ("", "0.0.0.0") else ""
                self._quorum_port = self._listen("quorum", self.me.quorum_port, _LeaderFactory(self), host)
        elif self._quorum_port is not None:
            self._quorum_port.stopListening()
            self._quorum_port = None
            for conn in list(self._learners.values()):
                conn.close()
            self._learners.clear()

    def _learner_connected(self, sid: int, conn: _QuorumConnection) -> None:
        old = self._learners.get(sid)
        if old is not None and old is not conn:
            old.close()
        self._learners[sid] = conn

    def _learner_lost(self, sid: int, conn: _QuorumConnection) -> None:
        if self._learners.get(sid) is conn:
            del self._learners[sid]
            self.peer.learner_lost(sid)
            self.server_flush()

    # --- quorum: the learner side --------------------------------------------------------------------

    def connect_to_leader(self, leader_sid: int) -> None:
        if self._leader_conn is not None:
            self._leader_conn.close()
            self._leader_conn = None
        self._leader_target = leader_sid
        # try until initLimit ticks have passed, as Learner.connectToLeader does
        self._leader_deadline = self.reactor.seconds() + self.config.init_limit * self.config.tick_time_ms / 1000.0
        self._connect_leader(leader_sid, 1)

    def _connect_leader(self, leader: int, attempt: int) -> None:
        if self._leader_target != leader:
            return
        q = self.config.servers[leader]
        self.reactor.connectTCP(q.host, q.quorum_port, _LearnerFactory(self, leader, attempt),
                                timeout=CONNECT_TIMEOUT_S)

    def _learner_connect_failed(self, leader: int, attempt: int) -> None:
        if self._leader_target != leader:
            return
        if self.reactor.seconds() + LEARNER_CONNECT_DELAY_S < self._leader_deadline:
            self.reactor.callLater(LEARNER_CONNECT_DELAY_S, self._connect_leader, leader, attempt + 1)
            return
        log.warning("could not connect to leader %d", leader)
        self._leader_target = None
        self.peer.leader_lost()
        self.server_flush()

    def _leader_connected(self, conn: _QuorumConnection) -> None:
        self._leader_conn = conn
        self.peer.leader_connected()

    def _leader_lost(self, conn: _QuorumConnection) -> None:
        if self._leader_conn is conn:
            self._leader_conn = None
            self._leader_target = None
            self.peer.leader_lost()
            self.server_flush()

    # --- both ------------------------------------------------------------------------------------------

    def send_packet(self, to_sid: int, p: Packet) -> None:
        data = to_wire(p, self.config_text)
        conn = self._learners.get(to_sid)
        if conn is None and self._leader_conn is not None and to_sid == self._leader_target:
            conn = self._leader_conn
        if conn is not None:
            conn.send(data)

    def disconnect(self, sid: int) -> None:
        conn = self._learners.pop(sid, None)
        if conn is not None:
            conn.close()
        if sid == self._leader_target and self._leader_conn is not None:
            self._leader_conn.close()
            self._leader_conn = None
            self._leader_target = None
