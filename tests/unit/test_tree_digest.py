"""The running tree digest: brought up to date lazily, always equal to one recomputed from every node."""

from __future__ import annotations

import random

from protocol import records
from protocol.codes import OpCode
from tests.unit.corekit import CoreClient, make_server

_OPEN = [records.ACL(31, records.Id("world", "anyone"))]
_READ = [records.ACL(1, records.Id("world", "anyone"))]


def test_running_digest_matches_a_full_recount_after_any_mix_of_writes():
    server, _ = make_server()
    tree = server.tree
    rng = random.Random(7)
    clients = [CoreClient(server).connect() for _ in range(3)]
    paths = ["/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/deep"]
    checks = 0
    for step in range(3000):
        i = rng.randrange(len(clients))
        if clients[i].closed:
            clients[i] = CoreClient(server).connect()
        c = clients[i]
        path = rng.choice(paths)
        roll = rng.random()
        if roll < 0.35:
            c.create(path, rng.randbytes(rng.randrange(4)), flags=rng.choice((0, 1, 2)))
        elif roll < 0.55:
            c.set_data(path, rng.randbytes(rng.randrange(4)))
        elif roll < 0.60:
            c.call(OpCode.SET_ACL, records.SetACLRequest(path, rng.choice((_OPEN, _READ)), -1))
        elif roll < 0.80:
            c.delete(path)
        elif roll < 0.90:
            c.multi([(OpCode.CREATE, records.CreateRequest(path + "m", b"", _OPEN, 0)),
                     (OpCode.DELETE, records.DeleteRequest(path + "m", -1))])
        elif roll < 0.93:
            c.close_session()  # its ephemerals go
        if rng.random() < 0.1:  # read it now and then: between reads, changes pile up
            checks += 1
            assert tree.signed_digest == tree.full_digest(), step
    assert checks > 100
    assert tree.signed_digest == tree.full_digest()
    assert any(z % 128 == 0 for z, _ in tree.digest_log)
