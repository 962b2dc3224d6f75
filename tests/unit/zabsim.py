"""A whole Zab ensemble in one process: fake clock, simulated network, seeded faults.

Election messages and learner channels are delivered after random delays;
a learner channel is FIFO (TCP).  ``crash(sid)`` kills a node (its channels
close, its disk survives), ``restart(sid)`` brings it back from its disk,
``partition(...)``/``heal()`` cut and restore links: election messages are
dropped; a learner channel that meets a cut hangs for good, as a TCP
connection does (no later message is delivered, nobody is told: the
protocol's timeouts must notice).
"""

from __future__ import annotations

import random

from zkcompat.core.clock import FakeClock
from zkcompat.core.config import ServerConfig
from zkcompat.core.server import ZooKeeperServer
from zkcompat.core.zab.election import ServerState
from zkcompat.core.zab.peer import EnsembleTiming, MemoryPeerStore, QuorumPeer
from zkcompat.core.zab.quorum import QuorumVerifier

from protocol import records
from protocol.codes import OpCode

from .corekit import CoreClient

OPEN = [records.ACL(31, records.Id("world", "anyone"))]


class _Channel:
    """A learner's connection to the leader: in-order delivery both ways."""

    def __init__(self, net, learner, leader):
        self.net = net
        self.learner = learner
        self.leader = leader
        self.open = True
        self.broken = False
        self.next_at = {learner: 0, leader: 0}


class SimNet:
    def __init__(self, seed: int, n_voters: int = 3, observers=(), delay_ms=(1, 20), disk_delay_ms: int = 0,
                 timing: EnsembleTiming = EnsembleTiming(tick_ms=200, init_limit=10, sync_limit=5)):
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.delay_ms = delay_ms
        self.timing = timing
        self.verifier = QuorumVerifier(range(1, n_voters + 1), observers)
        self.stores = {sid: MemoryPeerStore(self.clock, disk_delay_ms) for sid in self.verifier.members}
        self.peers: dict[int, QuorumPeer] = {}
        self.up: set[int] = set()
        self.cut: set[frozenset] = set()
        self.channels: dict[int, _Channel] = {}  # learner sid -> channel
        self.messages = 0
        for sid in sorted(self.verifier.members):
            self._boot(sid)

    # --- nodes --------------------------------------------------------------------------------
    def _boot(self, sid):
        config = ServerConfig(server_id=sid, tick_time_ms=self.timing.tick_ms, extended_types=True,
                              container_check_interval_ms=0)
        server = ZooKeeperServer(config, self.clock)
        server.start()
        peer = QuorumPeer(sid, self.verifier, server, _Transport(self, sid), self.stores[sid], self.timing)
        peer.recover(*self.stores[sid].recover())
        self.peers[sid] = peer
        self.up.add(sid)
        peer.start()

    def crash(self, sid):
        self.up.discard(sid)
        peer = self.peers[sid]
        peer.stop()
        peer.server.stop()
        for learner, ch in list(self.channels.items()):
            if sid in (ch.learner, ch.leader):
                self._close(ch)

    def restart(self, sid):
        assert sid not in self.up
        self._boot(sid)

    def partition(self, *groups):
        groups = [set(g) for g in groups]
        for a in self.verifier.members:
            for b in self.verifier.members:
                if a < b and not any(a in g and b in g for g in groups):
                    self.cut.add(frozenset((a, b)))

    def heal(self):
        self.cut.clear()

    def linked(self, a, b):
        return a in self.up and b in self.up and frozenset((a, b)) not in self.cut

    # --- delivery -----------------------------------------------------------------------------
    def _delay(self):
        return self.rng.randint(*self.delay_ms)

    def send_notification(self, frm, to, n):
        self.messages += 1
        if to == frm:
            self.clock.call_later(0, lambda: self._deliver_n(frm, to, n))
            return
        self.clock.call_later(self._delay(), lambda: self._deliver_n(frm, to, n))

    def _deliver_n(self, frm, to, n):
        if self.linked(frm, to) or (frm == to and to in self.up):
            self.peers[to].receive_notification(n)

    def connect(self, learner, leader):
        old = self.channels.get(learner)
        if old is not None:
            self._close(old)

        def attempt():
            if learner not in self.up:
                return
            if not self.linked(learner, leader) or self.peers[leader].state != ServerState.LEADING:
                self.peers[learner].leader_lost()
                return
            ch = _Channel(self, learner, leader)
            self.channels[learner] = ch
            self.peers[learner].leader_connected()

        self.clock.call_later(self._delay(), attempt)

    def send_packet(self, frm, to, packet):
        self.messages += 1
        ch = self.channels.get(frm) if self.channels.get(frm) and self.channels[frm].leader == to else None
        if ch is None:
            ch = self.channels.get(to) if self.channels.get(to) and self.channels[to].leader == frm else None
        if ch is None or not ch.open:
            return
        at = max(self.clock.now_ms() + self._delay(), ch.next_at[frm])
        ch.next_at[frm] = at

        def deliver():
            if not ch.open or ch.broken:
                return
            if not self.linked(frm, to):
                # TCP never loses a message and delivers the next one: a cut link hangs the
                # connection for good; both ends find out through their timeouts
                ch.broken = True
                return
            if to == ch.leader:
                self.peers[to].learner_packet(frm, packet)
            else:
                self.peers[to].leader_packet(packet)

        self.clock.call_later(at - self.clock.now_ms(), deliver)

    def disconnect(self, frm, other):
        for ch in list(self.channels.values()):
            if {ch.learner, ch.leader} == {frm, other}:
                self._close(ch)

    def _close(self, ch):
        if not ch.open:
            return
        ch.open = False
        if self.channels.get(ch.learner) is ch:
            del self.channels[ch.learner]
        if ch.learner in self.up:
            self.clock.call_later(1, self.peers[ch.learner].leader_lost)
        if ch.leader in self.up:
            self.clock.call_later(1, lambda: self.peers[ch.leader].learner_lost(ch.learner))

    # --- observing ----------------------------------------------------------------------------
    def run(self, ms):
        self.clock.advance(ms)

    def leader(self):
        leaders = [s for s in self.up if self.peers[s].state == ServerState.LEADING and self.peers[s]._established]
        return leaders[0] if len(leaders) == 1 else None

    def serving(self):
        return {s for s in self.up if self.peers[s].server.serving}

    def client(self, sid, timeout_ms=30000) -> CoreClient:
        """A client connected to server ``sid`` (time runs until its session is established)."""
        c = CoreClient(self.peers[sid].server)
        c.connect(timeout=timeout_ms)
        self.run_until(lambda: c._pump() or c.session_id != 0 or c.closed)
        assert c.session_id != 0, "no session from server %d" % sid
        return c

    def run_until(self, cond, max_ms=10000, step_ms=5):
        waited = 0
        while not cond():
            if waited >= max_ms:
                return False
            self.clock.advance(step_ms)
            waited += step_ms
        return True

    def call(self, client, op, rec=None, max_ms=10000):
        """Send one request and run time until its reply: the Reply."""
        xid = client.request(op, rec)
        self.run_until(lambda: any(r.xid == xid for r in client.replies()) or client.closed, max_ms)
        return client.reply(xid)

    def create(self, client, path, data=b"", flags=0):
        return self.call(client, OpCode.CREATE, records.CreateRequest(path, data, OPEN, flags)).err

    def tree_image(self, sid):
        tree = self.peers[sid].server.tree
        return {p: (n.data, n.czxid, n.mzxid, n.version, n.cversion, n.ephemeral_owner, sorted(n.child_names()))
                for p, n in tree.nodes.items() if p}


class _Transport:
    def __init__(self, net: SimNet, sid: int):
        self.net = net
        self.sid = sid

    def send_notification(self, to, n):
        self.net.send_notification(self.sid, to, n)

    def connect_to_leader(self, leader):
        self.net.connect(self.sid, leader)

    def send_packet(self, to, packet):
        self.net.send_packet(self.sid, to, packet)

    def disconnect(self, sid):
        self.net.disconnect(self.sid, sid)
