"""A member of a Zab ensemble: election, then leading or following, as one state machine.

Theory of operation
-------------------
A ``QuorumPeer`` wraps one ``ZooKeeperServer`` (tree, sessions, clients) and
plays ZooKeeper's QuorumPeer: LOOKING -> (election) -> LEADING or FOLLOWING
(or OBSERVING) -> ... -> LOOKING again when the quorum is lost.

Invariant kept everywhere: **the tree only holds txns committed in an
established epoch**.  Txns that are only logged (proposals not yet committed,
the tail of a previous epoch) wait in ``uncommitted``; a TRUNC drops them
without touching the tree.

Leading (Leader.lead + LearnerHandler):
1. discovery: collect FOLLOWERINFO (accepted epoch, last zxid) from a quorum,
   propose ``max(accepted epochs) + 1`` in LEADERINFO, collect ACKEPOCH from a
   quorum (giving up if a follower's history is newer than ours);
2. synchronisation, per learner, in one step: DIFF (the txns after its last
   zxid), TRUNC then DIFF (it logged txns we never had), or SNAP (the whole
   tree) when our history does not reach back far enough; the proposals still
   in flight follow; then NEWLEADER.  Once a quorum ACKed NEWLEADER the new
   epoch is established: our own logged tail is applied, clients are served,
   and each learner that ACKed gets UPTODATE;
3. broadcast: a write is prepared here (the ZooKeeperServer pipeline) and its
   txn proposed to the synced followers; our own log counts as one ACK; txns
   commit in zxid order once a quorum ACKed them (COMMIT to followers, INFORM
   to observers), and only then are applied and answered.
Following (Learner + Follower/Observer): the mirror image; writes and syncs
from local clients are forwarded to the leader (REQUEST) and answered when
their COMMIT (or SYNC) comes back; reads are served locally.

Liveness: the leader PINGs every half tick; a learner answers with the
sessions its clients touched; a learner silent for syncLimit ticks is dropped,
and a leader that keeps no quorum for syncLimit ticks steps down.  A learner
that hears nothing for syncLimit ticks looks for a new leader.

No I/O here: ``transport`` sends election notifications and packets and
reports connections; the clock is injected; storage (log + epochs) is a
``PeerStore``.
"""

from __future__ import annotations

import io
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

from protocol.codes import OpCode
from protocol.records import TxnHeader

from ..prep import Prep
from ..server import ZooKeeperServer
from .election import Election, Notification, ServerState, Vote
from .packets import Packet, PacketType, epoch_of, make_zxid
from .quorum import QuorumVerifier

log = logging.getLogger("zkcompat.zab")

COMMITTED_LOG_MAX = 10000  # txns kept in memory to sync a lagging learner by DIFF (then SNAP)


class PeerTransport(Protocol):
    def send_notification(self, to_sid: int, n: Notification) -> None: ...

    def connect_to_leader(self, leader_sid: int) -> None:
        """Open the learner channel; the transport then calls ``QuorumPeer.leader_connected``."""

    def send_packet(self, to_sid: int, packet: Packet) -> None: ...

    def disconnect(self, sid: int) -> None: ...


class PeerStore(Protocol):
    """A peer's durable state: its txn log and its epochs."""

    accepted_epoch: int
    current_epoch: int

    def save_epochs(self, accepted: int, current: int) -> None: ...

    def log_append(self, hdr: TxnHeader, txn, done: Callable[[], None]) -> None: ...

    def log_truncate(self, zxid: int) -> None: ...

    def save_snapshot(self, tree, sessions: dict, zxid: int) -> None:
        """The tree came whole from the leader (SNAP): keep it, the log restarts after it."""


class MemoryPeerStore:
    """A peer's 'disk' in memory: epochs and logged txns survive a simulated restart.

    ``delay_ms`` > 0 makes log appends complete later (a slow disk), through ``clock``.
    """

    def __init__(self, clock=None, delay_ms: int = 0):
        self.accepted_epoch = 0
        self.current_epoch = 0
        self.logged: list[tuple[TxnHeader, object]] = []
        self.snapshot: bytes | None = None
        self.clock = clock
        self.delay_ms = delay_ms

    def save_epochs(self, accepted: int, current: int) -> None:
        self.accepted_epoch = accepted
        self.current_epoch = current

    def log_append(self, hdr, txn, done) -> None:
        if self.logged and hdr.zxid <= self.logged[-1][0].zxid:
            raise AssertionError("log out of order: 0x%x after 0x%x" % (hdr.zxid, self.logged[-1][0].zxid))
        self.logged.append((hdr, txn))
        if self.delay_ms and self.clock is not None:
            self.clock.call_later(self.delay_ms, done)
        else:
            done()

    def log_truncate(self, zxid: int) -> None:
        self.logged = [(h, t) for h, t in self.logged if h.zxid <= zxid]

    def save_snapshot(self, tree, sessions: dict, zxid: int) -> None:
        from zkcompat.storage.snapshot import snapshot_bytes

        self.snapshot = snapshot_bytes(tree, sessions, zxid)
        self.logged = [(h, t) for h, t in self.logged if h.zxid > zxid]

    def recover(self):
        """After a restart: (the last snapshot's tree and sessions, or None; the logged txns)."""
        snap = None
        if self.snapshot is not None:
            from zkcompat.storage.snapshot import read_snapshot

            snap = read_snapshot(io.BytesIO(self.snapshot))
        return snap, list(self.logged)


@dataclass
class _Proposal:
    zxid: int
    hdr: TxnHeader
    txn: object
    done: Callable[[], None] | None
    acks: set = field(default_factory=set)


@dataclass
class _LearnerState:
    sid: int
    observer: bool
    accepted_epoch: int = -1
    last_zxid: int = -1
    current_epoch: int = -1
    phase: str = "info"  # info -> epoch -> synced (NEWLEADER sent) -> live (ACKed NEWLEADER)
    last_heard_ms: int = 0


@dataclass(frozen=True)
class EnsembleTiming:
    tick_ms: int = 2000
    init_limit: int = 10
    sync_limit: int = 5


class QuorumPeer:
    def __init__(
        self,
        sid: int,
        verifier: QuorumVerifier,
        server: ZooKeeperServer,
        transport: PeerTransport,
        store: PeerStore | None = None,
        timing: EnsembleTiming = EnsembleTiming(),
    ):
        self.sid = sid
        self.verifier = verifier
        self.server = server
        self.clock = server.clock
        self.transport = transport
        self.store = store or MemoryPeerStore()
        self.timing = timing
        self.participant = verifier.is_voter(sid)
        self.state = ServerState.LOOKING
        self.leader_sid: int | None = None
        self.election = Election(sid, verifier, self.clock, transport.send_notification, self._elected,
                                 participant=self.participant)
        self.uncommitted: list[tuple[TxnHeader, object]] = []  # logged, not applied (zxid order)
        self.committed_log: deque = deque(maxlen=COMMITTED_LOG_MAX)
        self._timers: list = []
        self.role_changes = 0
        self.on_state_change: Callable[[ServerState], None] | None = None
        # leader state
        self._learners: dict[int, _LearnerState] = {}
        self._epoch = 0
        self._established = False
        self._proposals: deque[_Proposal] = deque()
        self._pending_syncs: list[tuple[int, int]] = []  # (answer after zxid, learner)
        self._quorum_lost_since: int | None = None
        # learner state
        self._learner_phase = "connecting"
        self._sync_point = 0  # everything logged up to here is committed once UPTODATE comes
        self._commit_upto = 0  # the highest COMMIT/INFORM heard
        self._sync_buffer: list[tuple[TxnHeader, object, bool]] = []  # (hdr, txn, committed)
        self._learner_proposals: dict[int, tuple[TxnHeader, object]] = {}
        self._sync_queue: deque[tuple[int, int]] = deque()  # (session, cxid) of forwarded syncs, oldest first
        self._last_heard_ms = 0
        self._new_epoch = 0

    # --- public state ----------------------------------------------------------------------

    def recover(self, snapshot, logged: list[tuple[TxnHeader, object]]) -> None:
        """After a restart: the tree is the last snapshot; logged txns beyond it wait, unapplied."""
        if snapshot is not None:
            self.server.restore(snapshot.tree, snapshot.sessions)
            self.server.tree.last_processed_zxid = snapshot.zxid or snapshot.tree.last_processed_zxid
        tree_zxid = self.server.tree.last_processed_zxid
        self.uncommitted = [(h, t) for h, t in logged if h.zxid > tree_zxid]

    @property
    def last_logged_zxid(self) -> int:
        if self.uncommitted:
            return self.uncommitted[-1][0].zxid
        return self.server.tree.last_processed_zxid

    @property
    def mode(self) -> str:
        """What srvr prints as Mode."""
        return {ServerState.LEADING: "leader", ServerState.FOLLOWING: "follower",
                ServerState.OBSERVING: "observer"}.get(self.state, "looking")

    def start(self) -> None:
        self.server.leader_duties = False
        self._look()

    def stop(self) -> None:
        self._cancel_timers()
        self.election.stop_looking(ServerState.LOOKING, self.election.current_vote or Vote(0, 0, 0, 0))

    def force_election(self) -> None:
        """Leave the current role and look for a leader again (ZooKeeperServerController's ELECTNEWLEADER).

        A leader that does this drops its learners, so they look too and a new epoch is elected."""
        self._look()

    # --- state changes ---------------------------------------------------------------------------

    def _set_state(self, state: ServerState) -> None:
        self.state = state
        self.server.mode = self.mode
        self.role_changes += 1
        if self.on_state_change is not None:
            self.on_state_change(state)

    def _look(self) -> None:
        """Back to LOOKING: stop serving, forget the role, start an election."""
        self._cancel_timers()
        server = self.server
        was_leader = self.state == ServerState.LEADING
        if self.leader_sid is not None and self.leader_sid != self.sid:
            self.transport.disconnect(self.leader_sid)
        for sid in list(self._learners):
            self.transport.disconnect(sid)
        self._learners.clear()
        self._pending_syncs.clear()
        self._established = False
        self.leader_sid = None
        self._learner_proposals.clear()
        self._sync_buffer.clear()
        self._sync_queue.clear()
        self._learner_phase = "connecting"
        if was_leader:
            # proposals that never committed stay in our log: they are only logged again
            self.uncommitted.extend((prop.hdr, prop.txn) for prop in self._proposals)
        self._proposals.clear()
        server.serving = False
        server.forwarder = None
        server.revalidator = None
        server.leader_duties = False
        server._reschedule_expiry()
        server._schedule_containers()
        server.drop_learner_state()
        for conn in list(server.connections):
            conn.abort()
        server.prep = Prep(server.tree, server.sessions, server.auth, extended_types=server.config.extended_types,
                           reconfig_enabled=server.config.reconfig_enabled,
                           enforce_quota=server.config.enforce_quota)
        server.flush()
        self._set_state(ServerState.LOOKING)
        self.election.start(self.last_logged_zxid, self.store.current_epoch)

    def _elected(self, vote: Vote) -> None:
        self.leader_sid = vote.leader
        if vote.state == ServerState.LEADING:
            self._set_state(ServerState.LEADING)
            self._lead()
        else:
            self._set_state(vote.state)
            self._follow(vote.leader)

    # --- timers --------------------------------------------------------------------------------------

    def _after(self, ms: int, fn) -> None:
        self._timers = [t for t in self._timers if t.active()]
        self._timers.append(self.clock.call_later(ms, fn))

    def _cancel_timers(self) -> None:
        for t in self._timers:
            if t.active():
                t.cancel()
        self._timers = []

    # --- election channel -------------------------------------------------------------------------

    def receive_notification(self, n: Notification) -> None:
        self.election.receive(n)

    # ============================================================================================
    # LEADING
    # ============================================================================================

    def _lead(self) -> None:
        self._learners = {}
        self._established = False
        self._epoch = 0
        self._discovery_started = self.clock.now_ms()
        # our own FOLLOWERINFO, in effect
        self._self_info = (self.store.accepted_epoch, self.last_logged_zxid)
        self._after(self.timing.init_limit * self.timing.tick_ms, self._lead_deadline)
        self._after(self.timing.tick_ms // 2, self._leader_tick)

    def _lead_deadline(self) -> None:
        if self.state == ServerState.LEADING and not self._established:
            log.warning("peer %d: no quorum established its epoch within initLimit; looking again", self.sid)
            self._look()

    def learner_packet(self, sid: int, p: Packet) -> None:
        """A packet from a learner's channel (leader side)."""
        if self.state != ServerState.LEADING:
            return
        st = self._learners.get(sid)
        t = p.type
        if t in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
            st = _LearnerState(sid, observer=(t == PacketType.OBSERVERINFO), accepted_epoch=p.epoch,
                               last_zxid=p.zxid, last_heard_ms=self.clock.now_ms())
            self._learners[sid] = st
            if self._epoch:
                self.transport.send_packet(sid, Packet(PacketType.LEADERINFO, make_zxid(self._epoch, 0),
                                                       epoch=self._epoch))
                st.phase = "epoch"
            else:
                self._maybe_propose_epoch()  # tells every learner so far, this one included
            return
        if st is None:
            return
        st.last_heard_ms = self.clock.now_ms()
        if t == PacketType.ACKEPOCH:
            if st.phase != "epoch":
                return  # one ACKEPOCH per LEADERINFO
            st.current_epoch = p.epoch
            st.last_zxid = p.zxid
            st.phase = "acked-epoch"
            self._maybe_sync_learners()
        elif t == PacketType.ACK:
            if p.zxid == make_zxid(self._epoch, 0) and st.phase == "synced":
                st.phase = "live"
                if self._established:
                    self.transport.send_packet(sid, Packet(PacketType.UPTODATE))
                else:
                    self._maybe_establish()  # tells every live learner, this one included
            elif not st.observer:
                self._ack(sid, p.zxid)
        elif t == PacketType.PING:
            now = self.clock.now_ms()
            for session_id, timeout in p.touches.items():
                self.server.sessions.touch(session_id, timeout, now)
        elif t == PacketType.REQUEST and self._established:
            session_id, cxid, op, body, auth = p.request
            if op == OpCode.SYNC:
                self._learner_sync(sid)
            else:
                self.server.submit_from_learner(session_id, cxid, op, body, auth)
                self.server.flush()
        elif t == PacketType.REVALIDATE:
            valid = self.server.sessions.touch(p.session_id, p.timeout, self.clock.now_ms())
            self.server._reschedule_expiry()
            self.transport.send_packet(sid, Packet(PacketType.REVALIDATE, session_id=p.session_id, valid=valid))

    def learner_lost(self, sid: int) -> None:
        if self.state == ServerState.LEADING and self._learners.pop(sid, None) is not None:
            log.info("peer %d: learner %d left", self.sid, sid)
            self._check_quorum_now()

    def _maybe_propose_epoch(self) -> None:
        if self._epoch:
            return
        voters = {s for s, st in self._learners.items() if not st.observer} | {self.sid}
        if not self.verifier.contains_quorum(voters):
            return
        accepted = [self._self_info[0]] + [st.accepted_epoch for st in self._learners.values() if not st.observer]
        self._epoch = max(accepted) + 1
        self.store.save_epochs(self._epoch, self.store.current_epoch)
        for sid, st in self._learners.items():
            self.transport.send_packet(sid, Packet(PacketType.LEADERINFO, make_zxid(self._epoch, 0),
                                                   epoch=self._epoch))
            st.phase = "epoch"

    def _maybe_sync_learners(self) -> None:
        """Once a quorum ACKed the epoch, synchronise every learner that did (waitForEpochAck)."""
        acked = {s for s, st in self._learners.items() if st.phase in ("acked-epoch", "synced", "live")
                 and not st.observer}
        if not self._established and not self.verifier.contains_quorum(acked | {self.sid}):
            return
        mine = (self.store.current_epoch, self.last_logged_zxid)
        for st in self._learners.values():
            if st.phase == "acked-epoch" and (st.current_epoch, st.last_zxid) > mine and not st.observer:
                log.warning("peer %d: follower %d has a newer history (epoch %d, zxid 0x%x); looking again",
                            self.sid, st.sid, st.current_epoch, st.last_zxid)
                self._look()
                return
        for st in list(self._learners.values()):
            if st.phase == "acked-epoch":
                self._sync_learner(st)

    def _history(self) -> list[tuple[TxnHeader, object]]:
        """Our whole known history beyond the tree: committed log + logged tail + in-flight proposals."""
        return list(self.committed_log) + list(self.uncommitted)

    def _sync_learner(self, st: _LearnerState) -> None:
        """LearnerHandler.syncFollower, in one step: DIFF / TRUNC+DIFF / SNAP, in-flight proposals, NEWLEADER."""
        sid = st.sid
        peer_zxid = st.last_zxid
        history = self._history()
        last = self.last_logged_zxid
        tree_zxid = self.server.tree.last_processed_zxid
        send = self.transport.send_packet
        oldest = history[0][0].zxid if history else tree_zxid + 1
        if peer_zxid == last:
            send(sid, Packet(PacketType.DIFF, last))
            items = []
        elif peer_zxid > last:
            send(sid, Packet(PacketType.TRUNC, last))
            items = []
        elif peer_zxid >= oldest - 1 and (peer_zxid == oldest - 1 or any(h.zxid == peer_zxid for h, _ in history)):
            send(sid, Packet(PacketType.DIFF, last))
            items = [(h, t) for h, t in history if h.zxid > peer_zxid]
        elif peer_zxid >= oldest - 1:
            # it logged txns we never had: cut them, then catch up from the last one we share
            base = max((h.zxid for h, _ in history if h.zxid < peer_zxid), default=oldest - 1)
            send(sid, Packet(PacketType.TRUNC, base))
            items = [(h, t) for h, t in history if h.zxid > base]
        else:
            from zkcompat.storage.snapshot import snapshot_body

            if self.uncommitted:
                # the SNAP is of the tree; our logged tail follows it as txns
                items = list(self.uncommitted)
            else:
                items = []
            send(sid, Packet(PacketType.SNAP, tree_zxid,
                             snapshot=snapshot_body(self.server.tree, self.server.session_timeouts())))
        for h, t in items:
            if st.observer:
                send(sid, Packet(PacketType.INFORM, h.zxid, hdr=h, txn=t))
            else:
                send(sid, Packet(PacketType.PROPOSAL, h.zxid, hdr=h, txn=t))
                send(sid, Packet(PacketType.COMMIT, h.zxid))
        for prop in self._proposals:
            if not st.observer:
                send(sid, Packet(PacketType.PROPOSAL, prop.zxid, hdr=prop.hdr, txn=prop.txn))
        send(sid, Packet(PacketType.NEWLEADER, make_zxid(self._epoch, 0), epoch=self._epoch))
        st.phase = "synced"

    def _maybe_establish(self) -> None:
        """A quorum ACKed NEWLEADER: the epoch is ours; apply our logged tail and serve."""
        if self._established:
            return
        live = {s for s, st in self._learners.items() if st.phase == "live" and not st.observer} | {self.sid}
        if not self.verifier.contains_quorum(live):
            return
        self._established = True
        self.store.save_epochs(self._epoch, self._epoch)
        server = self.server
        for hdr, txn in self.uncommitted:
            self._apply(hdr, txn)
        self.uncommitted = []
        server.prep = Prep(server.tree, server.sessions, server.auth, extended_types=server.config.extended_types,
                           reconfig_enabled=server.config.reconfig_enabled,
                           enforce_quota=server.config.enforce_quota)
        server.prep.last_zxid = make_zxid(self._epoch, 0)
        server.log = _LeaderLog(self)
        server.forwarder = None
        server.revalidator = None
        server.leader_duties = True
        server.serving = True
        # sessions from the snapshot/log get a full timeout from now (ZooKeeper: the leader's tracker)
        now = self.clock.now_ms()
        for session_id, session in list(server.sessions.sessions.items()):
            server.sessions.touch(session_id, session.timeout_ms, now)
        server._reschedule_expiry()
        server._schedule_containers()
        log.info("peer %d: leading epoch %d with %s", self.sid, self._epoch, sorted(live))
        for st in self._learners.values():
            if st.phase == "live":
                self.transport.send_packet(st.sid, Packet(PacketType.UPTODATE))
        server.flush()

    def _apply(self, hdr, txn) -> None:
        """Apply a committed txn outside the request pipeline (the logged tail of an epoch)."""
        self.server.apply_committed(hdr, txn)
        self.committed_log.append((hdr, txn))

    # --- broadcast (leader) ----------------------------------------------------------------------------

    def propose(self, hdr: TxnHeader, txn, done: Callable[[], None]) -> None:
        """The server prepared a txn: propose it; ``done`` applies and answers it once committed."""
        prop = _Proposal(hdr.zxid, hdr, txn, done)
        self._proposals.append(prop)
        for sid, st in self._learners.items():
            if st.phase in ("synced", "live") and not st.observer:
                self.transport.send_packet(sid, Packet(PacketType.PROPOSAL, hdr.zxid, hdr=hdr, txn=txn))
        self.store.log_append(hdr, txn, lambda: self._ack(self.sid, hdr.zxid))

    def _ack(self, sid: int, zxid: int) -> None:
        for prop in self._proposals:
            if prop.zxid == zxid:
                prop.acks.add(sid)
                break
        # commit in zxid order, as far as quorums allow
        committed = False
        while self._proposals and self.verifier.contains_quorum(self._proposals[0].acks):
            prop = self._proposals.popleft()
            for lsid, st in self._learners.items():
                if st.phase in ("synced", "live"):
                    if st.observer:
                        self.transport.send_packet(lsid, Packet(PacketType.INFORM, prop.zxid, hdr=prop.hdr,
                                                                txn=prop.txn))
                    else:
                        self.transport.send_packet(lsid, Packet(PacketType.COMMIT, prop.zxid))
            self.committed_log.append((prop.hdr, prop.txn))
            if prop.done is not None:
                prop.done()
            committed = True
        if committed:
            self._answer_syncs()
            self.server.flush()

    def _learner_sync(self, sid: int) -> None:
        """A learner's client asked for sync: answer once what is in flight now has committed.

        SYNC carries no request id: a learner answers its oldest pending sync (Leader.sendSync)."""
        after = self._proposals[-1].zxid if self._proposals else 0
        self._pending_syncs.append((after, sid))
        self._answer_syncs()

    def _answer_syncs(self) -> None:
        first_open = self._proposals[0].zxid if self._proposals else None
        keep = []
        for after, sid in self._pending_syncs:
            if first_open is None or after < first_open:
                self.transport.send_packet(sid, Packet(PacketType.SYNC))
            else:
                keep.append((after, sid))
        self._pending_syncs = keep

    # --- liveness (leader) ------------------------------------------------------------------------

    def _leader_tick(self) -> None:
        if self.state != ServerState.LEADING:
            return
        now = self.clock.now_ms()
        limit = self.timing.sync_limit * self.timing.tick_ms
        for sid, st in list(self._learners.items()):
            if now - st.last_heard_ms > limit:
                log.warning("peer %d: learner %d silent for %d ms; dropping it", self.sid, sid, now - st.last_heard_ms)
                self._learners.pop(sid, None)
                self.transport.disconnect(sid)
            else:
                self.transport.send_packet(sid, Packet(PacketType.PING, self.server.tree.last_processed_zxid))
        if self._established:
            self._check_quorum_now()
            if self.state != ServerState.LEADING:
                return
        self._after(self.timing.tick_ms // 2, self._leader_tick)

    def _check_quorum_now(self) -> None:
        if not self._established:
            return
        live = {s for s, st in self._learners.items() if st.phase == "live" and not st.observer} | {self.sid}
        now = self.clock.now_ms()
        if self.verifier.contains_quorum(live):
            self._quorum_lost_since = None
            return
        if self._quorum_lost_since is None:
            self._quorum_lost_since = now
        if now - self._quorum_lost_since >= self.timing.sync_limit * self.timing.tick_ms:
            log.warning("peer %d: not supported by a quorum for syncLimit; stepping down", self.sid)
            self._quorum_lost_since = None
            self._look()

    # ============================================================================================
    # FOLLOWING / OBSERVING
    # ============================================================================================

    def _follow(self, leader: int) -> None:
        self._learner_phase = "connecting"
        self._sync_point = 0
        self._commit_upto = 0
        self._sync_buffer = []
        self._learner_proposals = {}
        self._last_heard_ms = self.clock.now_ms()
        self.transport.connect_to_leader(leader)
        self._after(self.timing.init_limit * self.timing.tick_ms, self._learner_init_deadline)

    def _learner_init_deadline(self) -> None:
        if self.state in (ServerState.FOLLOWING, ServerState.OBSERVING) and not self.server.serving:
            log.warning("peer %d: not synchronised with leader %s within initLimit; looking again", self.sid,
                        self.leader_sid)
            self._look()

    def leader_connected(self) -> None:
        """The learner channel to the leader is up: introduce ourselves."""
        if self.state not in (ServerState.FOLLOWING, ServerState.OBSERVING):
            return
        kind = PacketType.FOLLOWERINFO if self.state == ServerState.FOLLOWING else PacketType.OBSERVERINFO
        self.transport.send_packet(self.leader_sid, Packet(kind, self.last_logged_zxid,
                                                           epoch=self.store.accepted_epoch, sid=self.sid))

    def leader_lost(self) -> None:
        if self.state in (ServerState.FOLLOWING, ServerState.OBSERVING):
            log.info("peer %d: lost leader %s", self.sid, self.leader_sid)
            self._look()

    def leader_packet(self, p: Packet) -> None:
        """A packet from the leader (learner side).

        Phases: "sync" (after LEADERINFO: the stream of DIFF/TRUNC/SNAP and txns is
        only collected), "acked" (NEWLEADER ACKed: new proposals are logged and ACKed,
        commits noted), "serving" (after UPTODATE: everything applies as it commits).
        """
        if self.state not in (ServerState.FOLLOWING, ServerState.OBSERVING):
            return
        self._last_heard_ms = self.clock.now_ms()
        t = p.type
        send = self.transport.send_packet
        leader = self.leader_sid
        phase = self._learner_phase
        if t == PacketType.LEADERINFO:
            new_epoch = p.epoch
            if new_epoch < self.store.accepted_epoch:
                log.warning("peer %d: leader epoch %d is below our accepted epoch %d", self.sid, new_epoch,
                            self.store.accepted_epoch)
                self._look()
                return
            if new_epoch > self.store.accepted_epoch:
                self.store.save_epochs(new_epoch, self.store.current_epoch)
            self._learner_phase = "sync"
            send(leader, Packet(PacketType.ACKEPOCH, self.last_logged_zxid, epoch=self.store.current_epoch))
        elif t == PacketType.DIFF:
            self._sync_point = p.zxid
        elif t == PacketType.TRUNC:
            self._sync_point = p.zxid
            self.uncommitted = [(h, x) for h, x in self.uncommitted if h.zxid <= p.zxid]
            self.store.log_truncate(p.zxid)
        elif t == PacketType.SNAP:
            from zkcompat.storage.snapshot import read_snapshot_body

            snap = read_snapshot_body(p.snapshot, extended_types=self.server.config.extended_types)
            self.uncommitted = []
            self.committed_log.clear()
            self.server.restore(snap.tree, snap.sessions)
            self.server.tree.last_processed_zxid = p.zxid
            self.store.save_snapshot(self.server.tree, snap.sessions, p.zxid)
            self._sync_point = p.zxid
        elif t == PacketType.NEWLEADER:
            self._new_leader(p)
        elif t == PacketType.UPTODATE:
            self._uptodate()
        elif t in (PacketType.PROPOSAL, PacketType.INFORM):
            committed = t == PacketType.INFORM
            if phase == "sync":
                self._sync_buffer.append((p.hdr, p.txn, committed))
            else:
                self.uncommitted.append((p.hdr, p.txn))
                if committed:
                    self._commit_upto = max(self._commit_upto, p.zxid)
                    self.store.log_append(p.hdr, p.txn, lambda: None)
                    if phase == "serving":
                        self._learner_commit(p.zxid)
                else:
                    self._learner_proposals[p.zxid] = (p.hdr, p.txn)
                    self.store.log_append(p.hdr, p.txn, lambda z=p.zxid: self._send_ack(z))
        elif t == PacketType.COMMIT:
            if phase == "sync":
                self._sync_buffer = [(h, x, c or h.zxid == p.zxid) for h, x, c in self._sync_buffer]
            else:
                self._commit_upto = max(self._commit_upto, p.zxid)
                if phase == "serving":
                    self._learner_commit(p.zxid)
        elif t == PacketType.PING:
            send(leader, Packet(PacketType.PING, self.last_logged_zxid, touches=self.server.sessions.drain_touched()))
        elif t == PacketType.SYNC:
            if self._sync_queue:
                self.server.sync_answered(*self._sync_queue.popleft())
                self.server.flush()
        elif t == PacketType.REVALIDATE:
            self._revalidated(p.session_id, p.valid)

    def _send_ack(self, zxid: int) -> None:
        if self.state == ServerState.FOLLOWING and self.leader_sid is not None:
            self.transport.send_packet(self.leader_sid, Packet(PacketType.ACK, zxid))

    def _new_leader(self, p: Packet) -> None:
        """End of the sync stream: log what came, adopt the epoch, ACK (Learner.syncWithLeader)."""
        epoch = epoch_of(p.zxid)
        in_flight = []
        for hdr, txn, committed in self._sync_buffer:
            self.uncommitted.append((hdr, txn))
            if committed:
                self._sync_point = max(self._sync_point, hdr.zxid)
                self.store.log_append(hdr, txn, lambda: None)
            else:
                in_flight.append((hdr, txn))
        self._sync_buffer = []
        self.store.save_epochs(max(self.store.accepted_epoch, epoch), epoch)
        self._learner_phase = "acked"
        self.transport.send_packet(self.leader_sid, Packet(PacketType.ACK, p.zxid))
        for hdr, txn in in_flight:
            self._learner_proposals[hdr.zxid] = (hdr, txn)
            self.store.log_append(hdr, txn, lambda z=hdr.zxid: self._send_ack(z))

    def _uptodate(self) -> None:
        """The leader's epoch is established: apply the synchronised history and serve clients."""
        server = self.server
        self._learner_phase = "serving"
        self._learner_commit(max(self._sync_point, self._commit_upto))
        server.forwarder = self._forward
        server.revalidator = self._revalidate
        server.leader_duties = False
        server.serving = True
        server._reschedule_expiry()
        server._schedule_containers()
        self._after(self.timing.tick_ms, self._learner_tick)
        log.info("peer %d: %s leader %s, serving at zxid 0x%x", self.sid, self.mode, self.leader_sid,
                 server.tree.last_processed_zxid)
        server.flush()

    def _learner_commit(self, zxid: int) -> None:
        """Everything logged up to ``zxid`` is committed: apply it in order."""
        applied = False
        while self.uncommitted and self.uncommitted[0][0].zxid <= zxid:
            hdr, txn = self.uncommitted.pop(0)
            self._learner_proposals.pop(hdr.zxid, None)
            self._apply(hdr, txn)
            applied = True
        if applied:
            self.server.flush()

    def _learner_tick(self) -> None:
        if self.state not in (ServerState.FOLLOWING, ServerState.OBSERVING):
            return
        if self.clock.now_ms() - self._last_heard_ms > self.timing.sync_limit * self.timing.tick_ms:
            log.warning("peer %d: leader %s silent for syncLimit; looking again", self.sid, self.leader_sid)
            self._look()
            return
        self._after(self.timing.tick_ms, self._learner_tick)

    # --- client requests on a learner -------------------------------------------------------------

    def _forward(self, req) -> None:
        conn = req.conn
        if req.type == OpCode.SYNC:
            self._sync_queue.append((req.session_id, req.xid))
        body = req.body
        if req.type == OpCode.CREATE_SESSION:
            body = (conn.session_timeout if conn is not None else 0).to_bytes(4, "big", signed=True)
        auth = list(conn.auth) if conn is not None else []
        self.transport.send_packet(self.leader_sid, Packet(PacketType.REQUEST, request=(
            req.session_id, req.xid, req.type, bytes(body or b""), auth)))

    def _revalidate(self, conn, session_id: int, timeout: int) -> None:
        self._revalidating = getattr(self, "_revalidating", {})
        self._revalidating.setdefault(session_id, []).append(conn)
        self.transport.send_packet(self.leader_sid, Packet(PacketType.REVALIDATE, session_id=session_id,
                                                           timeout=timeout))

    def _revalidated(self, session_id: int, valid: bool) -> None:
        waiting = getattr(self, "_revalidating", {}).pop(session_id, [])
        server = self.server
        for conn in waiting:
            if valid:
                server.sessions.add(session_id, conn.session_timeout, self.clock.now_ms())
            conn.finish_session_init(valid)
        server.flush()


class _LeaderLog:
    """The leader's log seam: a txn is 'durable' when a quorum has logged it."""

    def __init__(self, peer: QuorumPeer):
        self.peer = peer

    def append(self, hdr, txn, done, entry=None) -> None:
        self.peer.propose(hdr, txn, done)  # a proposal is marshalled per packet (``entry`` is the same bytes)

    def close(self) -> None:
        pass
