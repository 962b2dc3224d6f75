"""Seeded simulation of 3- and 5-server ensembles under crashes, restarts and partitions.

Each run drives clients that create znodes on random servers while a seeded
schedule crashes and restarts servers (their disks survive), partitions the
network and heals it.  At the end every server is restarted and the network
healed; then all servers must hold the same tree, and every create whose reply
was OK must be in it.  A failing seed replays exactly: ZKCOMPAT_SIM_SEEDS=7,8.
"""

from __future__ import annotations

import os
import random

import pytest

from protocol import records
from protocol.codes import OpCode

from .zabsim import OPEN, SimNet

SEEDS = [int(s) for s in os.environ.get("ZKCOMPAT_SIM_SEEDS", "").split(",") if s] or list(range(12))
STEPS = 1500  # of 20 ms: 30 simulated seconds per run
STEP_MS = 20


class _Writer:
    def __init__(self, net, rnd, name):
        self.net = net
        self.rnd = rnd
        self.name = name
        self.client = None
        self.outstanding = None  # (xid, path)
        self.n = 0

    def step(self, acked):
        c = self.client
        if c is not None and c.closed:
            self.client = c = None
            self.outstanding = None
        if c is None:
            serving = sorted(self.net.serving())
            if not serving:
                return
            from .corekit import CoreClient

            c = CoreClient(self.net.peers[self.rnd.choice(serving)].server)
            c.connect(timeout=30000)
            self.client = c
            return
        c._pump()
        if c.session_id == 0:
            return
        if self.outstanding is not None:
            xid, path = self.outstanding
            for r in c.replies():
                if r.xid == xid:
                    if r.err == 0:
                        acked.append(path)
                    self.outstanding = None
            return
        self.n += 1
        path = "/%s-%d" % (self.name, self.n)
        xid = c.request(OpCode.CREATE, records.CreateRequest(path, b"", OPEN, 0))
        self.outstanding = (xid, path)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_faults_keep_one_history_and_every_acknowledged_write(seed):
    """Crashes, restarts and partitions: servers agree on the tree and lose no acknowledged create."""
    rnd = random.Random(seed)
    size = 3 if seed % 2 == 0 else 5
    net = SimNet(seed, n_voters=size, disk_delay_ms=rnd.choice([0, 2, 10]))
    writers = [_Writer(net, rnd, "w%d" % i) for i in range(3)]
    acked: list[str] = []
    faults = 0
    crashed: set[int] = set()
    for step in range(STEPS):
        if step % 25 == 0 and step > 50:
            roll = rnd.random()
            members = sorted(net.verifier.members)
            if roll < 0.25 and len(crashed) < (size - 1) // 2:
                victim = rnd.choice([s for s in members if s not in crashed])
                net.crash(victim)
                crashed.add(victim)
                faults += 1
            elif roll < 0.45 and crashed:
                back = rnd.choice(sorted(crashed))
                net.restart(back)
                crashed.discard(back)
                faults += 1
            elif roll < 0.6:
                rnd.shuffle(members)
                cut = rnd.randrange(1, size)
                net.partition(set(members[:cut]), set(members[cut:]))
                faults += 1
            elif roll < 0.8:
                net.heal()
        for w in writers:
            w.step(acked)
        net.run(STEP_MS)
    # heal everything and let the ensemble settle
    net.heal()
    for sid in sorted(crashed):
        net.restart(sid)
    assert net.run_until(lambda: net.serving() == set(net.verifier.members) and net.leader() is not None,
                         max_ms=60000), "seed %d: the ensemble did not recover" % seed
    net.run(3000)
    images = {sid: net.tree_image(sid) for sid in net.verifier.members}
    first = images[min(images)]
    for sid, image in images.items():
        assert image == first, "seed %d: server %d differs from server %d" % (seed, sid, min(images))
    lost = [p for p in acked if p not in first]
    assert not lost, "seed %d: acknowledged creates lost: %s" % (seed, lost[:5])
    assert acked, "seed %d: no write was acknowledged at all" % seed
    print("seed %d: %d servers, %d faults, %d acknowledged writes, %d messages" % (
        seed, size, faults, len(acked), net.messages))
