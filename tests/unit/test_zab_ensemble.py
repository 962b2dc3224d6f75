"""A Zab ensemble in one process: replication, failover, catch-up, all on a fake clock."""

from __future__ import annotations


from protocol import records
from protocol.codes import OpCode

from .zabsim import SimNet

OPEN = [records.ACL(31, records.Id("world", "anyone"))]


def test_three_nodes_elect_and_replicate_writes_from_any_server():
    """Writes sent to the leader and to a follower reach every server, in one zxid order."""
    net = SimNet(seed=1)
    net.run(5000)
    leader = net.leader()
    assert leader is not None and net.serving() == {1, 2, 3}
    follower = next(s for s in (1, 2, 3) if s != leader)
    a = net.client(leader)
    b = net.client(follower)
    assert net.create(a, "/from-leader", b"1") == 0
    xid = b.request(OpCode.CREATE, records.CreateRequest("/from-follower", b"2", OPEN, 0))
    net.run(1000)
    assert b.reply(xid).err == 0
    net.run(1000)
    images = [net.tree_image(s) for s in (1, 2, 3)]
    assert images[0] == images[1] == images[2]
    assert "/from-leader" in images[0] and "/from-follower" in images[0]


def test_reads_on_a_follower_wait_for_its_own_writes():
    """A follower answers a session's read only after that session's earlier write is applied there."""
    net = SimNet(seed=2)
    net.run(5000)
    follower = next(s for s in (1, 2, 3) if s != net.leader())
    c = net.client(follower)
    w = c.request(OpCode.CREATE, records.CreateRequest("/x", b"v", OPEN, 0))
    r = c.request(OpCode.GET_DATA, records.GetDataRequest("/x", False))
    net.run(2000)
    assert [e.xid for e in c.replies()] == [w, r]
    assert c.reply(r).err == 0


def test_leader_crash_elects_a_new_leader_and_keeps_acknowledged_writes():
    """Kill the leader: a new one is elected from the survivors; acknowledged writes survive; writes go on."""
    net = SimNet(seed=3)
    net.run(5000)
    old = net.leader()
    c = net.client(old)
    for i in range(5):
        assert net.create(c, "/k%d" % i) == 0
    net.run(500)
    net.crash(old)
    net.run(10000)
    new = net.leader()
    assert new is not None and new != old
    c2 = net.client(new)
    assert net.create(c2, "/after") == 0
    tree = net.tree_image(new)
    assert all("/k%d" % i in tree for i in range(5))
    net.restart(old)
    net.run(10000)
    assert net.tree_image(old) == net.tree_image(new)


def test_minority_stops_serving_and_rejoins_after_heal():
    """A server cut off from the others stops serving; after healing it catches up."""
    net = SimNet(seed=4)
    net.run(5000)
    leader = net.leader()
    lonely = next(s for s in (1, 2, 3) if s != leader)
    net.partition({lonely}, {s for s in (1, 2, 3) if s != lonely})
    net.run(5000)
    assert lonely not in net.serving()
    c = net.client(leader) if leader != lonely else None
    assert c is not None and net.create(c, "/during-partition") == 0
    net.heal()
    net.run(10000)
    assert lonely in net.serving()
    assert "/during-partition" in net.tree_image(lonely)


def test_sessions_are_global_and_ephemerals_vanish_everywhere():
    """A session made on a follower owns ephemerals seen on all servers; closing it removes them everywhere."""
    net = SimNet(seed=5)
    net.run(5000)
    follower = next(s for s in (1, 2, 3) if s != net.leader())
    c = net.client(follower)
    assert c.session_id >> 56 == follower
    assert net.create(c, "/e", flags=1) == 0
    net.run(500)
    assert all("/e" in net.tree_image(s) for s in (1, 2, 3))
    assert net.call(c, OpCode.CLOSE_SESSION).err == 0
    net.run(500)
    assert all("/e" not in net.tree_image(s) for s in (1, 2, 3))


def test_sync_on_a_follower_returns_after_the_leaders_writes():
    """sync through a follower is answered once the leader's earlier writes are applied there."""
    net = SimNet(seed=6)
    net.run(5000)
    leader = net.leader()
    follower = next(s for s in (1, 2, 3) if s != leader)
    a = net.client(leader)
    b = net.client(follower)
    a.request(OpCode.CREATE, records.CreateRequest("/s", b"", OPEN, 0))
    xid = b.request(OpCode.SYNC, records.SyncRequest("/s"))
    net.run(2000)
    assert b.reply(xid).err == 0
    assert net.call(b, OpCode.EXISTS, records.ExistsRequest("/s", False)).err == 0
