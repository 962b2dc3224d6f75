"""Fast leader election on a simulated network with a fake clock."""

from __future__ import annotations

import random

import pytest

from zkcompat.core.clock import FakeClock
from zkcompat.core.zab.election import Election, ServerState, total_order
from zkcompat.core.zab.quorum import QuorumVerifier


class Net:
    """Delivers election messages after a random delay; links can be cut."""

    def __init__(self, clock, rng, drop=0.0):
        self.clock = clock
        self.rng = rng
        self.drop = drop
        self.nodes: dict[int, Election] = {}
        self.cut: set[frozenset] = set()
        self.up: set[int] = set()
        self.sent = 0

    def send(self, frm, to, n):
        if to == frm:
            # a peer's own vote reaches it through its own queue, as QuorumCnxManager loops back
            self.clock.call_later(0, lambda: self._deliver(frm, to, n))
            return
        self.sent += 1
        if self.rng.random() < self.drop:
            return
        self.clock.call_later(self.rng.randrange(1, 30), lambda: self._deliver(frm, to, n))

    def _deliver(self, frm, to, n):
        if frm not in self.up or to not in self.up or frozenset((frm, to)) in self.cut:
            return
        self.nodes[to].receive(n)


def make_ensemble(n_voters, seed, observers=(), drop=0.0, zxids=None, epochs=None):
    clock = FakeClock()
    rng = random.Random(seed)
    net = Net(clock, rng, drop)
    verifier = QuorumVerifier(range(1, n_voters + 1), observers)
    decisions = {}
    for sid in sorted(verifier.members):
        def send(to, n, frm=sid):
            net.send(frm, to, n)

        def decided(vote, sid=sid):
            decisions[sid] = vote

        net.nodes[sid] = Election(sid, verifier, clock, send, decided, participant=sid in verifier.voters)
        net.up.add(sid)
    for sid, e in net.nodes.items():
        e.start((zxids or {}).get(sid, 0), (epochs or {}).get(sid, 0))
    return clock, net, decisions


@pytest.mark.parametrize("seed", range(20))
def test_three_and_five_voters_elect_the_most_up_to_date_server(seed):
    """Every voter decides the same leader: the highest (epoch, zxid, id)."""
    for size in (3, 5):
        zxids = {sid: random.Random(seed * 7 + sid).choice([0x100000005, 0x100000007, 0x200000001])
                 for sid in range(1, size + 1)}
        clock, net, decisions = make_ensemble(size, seed, zxids=zxids, drop=0.1)
        clock.advance(20000)
        best = max(range(1, size + 1), key=lambda sid: (zxids[sid], sid))
        assert set(decisions) == set(range(1, size + 1))
        assert {v.leader for v in decisions.values()} == {best}
        assert decisions[best].state == ServerState.LEADING
        assert all(v.state == ServerState.FOLLOWING for sid, v in decisions.items() if sid != best)


def test_minority_cannot_elect():
    """One voter of three, cut off from the others, stays LOOKING."""
    clock, net, decisions = make_ensemble(3, 1)
    net.cut |= {frozenset((1, 2)), frozenset((1, 3))}
    clock.advance(120000)
    assert 1 not in decisions
    assert decisions[3].leader == 3 and decisions[2].leader == 3


def test_restarted_peer_learns_the_existing_leader():
    """A voter that restarts its election while the others lead/follow joins them."""
    clock, net, decisions = make_ensemble(3, 2)
    clock.advance(5000)
    assert decisions[1].leader == 3
    del decisions[1]
    net.nodes[1].start(0, 0)
    clock.advance(5000)
    assert decisions[1].leader == 3 and decisions[1].state == ServerState.FOLLOWING
    assert net.nodes[3].state == ServerState.LEADING


def test_observer_learns_the_leader_and_never_votes():
    """An observer decides OBSERVING the voters' leader; two voters of three still elect."""
    clock, net, decisions = make_ensemble(3, 3, observers=(9,))
    clock.advance(5000)
    assert decisions[9].state == ServerState.OBSERVING and decisions[9].leader == 3
    assert all(decisions[s].leader == 3 for s in (1, 2, 3))


def test_total_order_prefers_epoch_then_zxid_then_id():
    """totalOrderPredicate compares (epoch, zxid, id) in that order."""
    assert total_order(1, 5, 2, 3, 9, 1)
    assert not total_order(3, 9, 1, 1, 5, 2)
    assert total_order(1, 6, 1, 3, 5, 1)
    assert total_order(3, 5, 1, 1, 5, 1)
    assert not total_order(1, 5, 1, 1, 5, 1)
