"""zkcompat ensembles as processes on loopback: kazoo across servers, SIGKILL of the leader, catch-up."""

from __future__ import annotations

import os
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from zkcompat.servers import ZkcompatEnsemble, free_ports


def _client(hosts, **kw):
    c = KazooClient(hosts, connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.2), **kw)
    c.start(timeout=15)
    return c


def test_three_servers_serve_one_history():
    """A write through any server is read back through every other; srvr shows one leader."""
    with ZkcompatEnsemble(3) as ens:
        modes = sorted(ens.mode(s) for s in (1, 2, 3))
        assert modes == ["follower", "follower", "leader"]
        for sid in (1, 2, 3):
            c = _client(ens.host(sid))
            c.create("/via-%d" % sid, b"%d" % sid)
            c.stop()
        for sid in (1, 2, 3):
            c = _client(ens.host(sid))
            c.sync("/")
            assert sorted(c.get_children("/")) == ["via-1", "via-2", "via-3", "zookeeper"]
            c.stop()


def test_leader_sigkill_under_load_loses_no_acknowledged_write():
    """Writers keep writing while the leader is killed with SIGKILL: a new leader serves them and every
    acknowledged write is there; the old leader restarts and catches up."""
    with ZkcompatEnsemble(3) as ens:
        leader = ens.leader()
        followers = [s for s in (1, 2, 3) if s != leader]
        acked: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n):
            c = _client(",".join(ens.host(s) for s in followers), timeout=8)
            i = 0
            while not stop.is_set():
                path = "/w%d-%d" % (n, i)
                i += 1  # a fresh path each time: a create whose reply was lost may still be committed
                try:
                    c.create(path)
                except KazooException:
                    continue  # not acknowledged: it may or may not be there
                with lock:
                    acked.append(path)
            c.stop()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(acked)
        killed_at = time.monotonic()
        ens.kill(leader)
        while len(acked) < before + 50 and time.monotonic() < deadline + 20:
            time.sleep(0.01)
        failover = time.monotonic() - killed_at
        stop.set()
        for t in threads:
            t.join(20)
        assert len(acked) >= before + 50, "writes did not resume after the leader died"
        new_leader = ens.leader()
        assert new_leader in followers
        c = _client(ens.host(new_leader))
        present = set(c.get_children("/"))
        c.stop()
        lost = [p for p in acked if p[1:] not in present]
        assert not lost, "acknowledged writes lost: %s" % lost[:5]
        print("failover: writes resumed %.2f s after SIGKILL of the leader" % failover)
        ens.restart(leader)
        ens.wait_serving({leader})
        c = _client(ens.host(leader))
        c.sync("/")
        assert set(c.get_children("/")) >= {p[1:] for p in acked}
        c.stop()


def test_session_and_ephemerals_survive_the_loss_of_their_server():
    """A client whose server dies reconnects elsewhere with the same session; its ephemeral stays."""
    with ZkcompatEnsemble(3) as ens:
        follower = next(s for s in (1, 2, 3) if ens.mode(s) == "follower")
        others = [s for s in (1, 2, 3) if s != follower]
        c = _client(",".join(ens.host(s) for s in [follower] + others), timeout=10)
        sid = c.client_id[0]
        c.create("/mine", ephemeral=True)
        watcher = _client(ens.host(others[0]))
        ens.kill(follower)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if c.exists("/mine") is not None and c.client_id[0] == sid:
                    break
            except KazooException:
                pass
            time.sleep(0.05)
        assert c.client_id[0] == sid
        assert watcher.exists("/mine") is not None
        assert watcher.get("/mine")[1].ephemeralOwner == sid
        c.stop()
        watcher.sync("/")
        assert watcher.exists("/mine") is None  # closing the session removed it everywhere
        watcher.stop()


def test_five_servers_keep_serving_with_two_down_and_stop_with_three():
    """A 5-server ensemble serves writes with 2 members down and refuses them with 3 down."""
    with ZkcompatEnsemble(5) as ens:
        followers = [s for s in range(1, 6) if ens.mode(s) == "follower"]
        survivor = followers[-1]
        ens.kill(followers[0])
        ens.kill(followers[1])
        c = _client(ens.host(survivor), timeout=6)
        c.create("/still")
        c.stop()
        leader = ens.leader()
        ens.kill(leader)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and ens.mode(survivor) in ("leader", "follower"):
            time.sleep(0.1)
        assert ens.mode(survivor) not in ("leader", "follower")


def test_durable_ensemble_survives_a_full_restart():
    """Members with data dirs: all three killed with SIGKILL and restarted keep every acknowledged write."""
    with ZkcompatEnsemble(3, durable=True) as ens:
        c = _client(ens.hosts)
        for i in range(30):
            c.create("/d%02d" % i, b"%d" % i)
        c.stop()
        for sid in (1, 2, 3):
            ens.kill(sid)
        for sid in (1, 2, 3):
            ens.restart(sid)
        ens.wait_serving({1, 2, 3})
        c = _client(ens.hosts)
        c.sync("/")
        assert sorted(n for n in c.get_children("/") if n.startswith("d")) == ["d%02d" % i for i in range(30)]
        assert c.get("/d07")[0] == b"7"
        c.stop()



def test_a_server_configured_at_another_servers_election_address_does_not_connect_to_itself_forever():
    """A config error: server 3 is given server 2's election address.  Server 2's election channel
    to "3" reaches itself: it warns and hangs up instead of calling itself back at once, forever
    (which kept a core busy); servers 1 and 2 still make a quorum of the three."""
    ens = ZkcompatEnsemble(3)
    ports = iter(free_ports(9))
    ens._quorum = {sid: next(ports) for sid in (1, 2, 3)}
    ens._election = {sid: next(ports) for sid in (1, 2, 3)}
    ens.ports = {sid: next(ports) for sid in (1, 2, 3)}
    ens._election[3] = ens._election[2]
    try:
        ens._start_member(1)
        ens._start_member(2)
        ens.wait_serving({1, 2})
        pid = ens.members[2].proc.pid
        t0, c0 = time.monotonic(), _cpu_seconds(pid)
        time.sleep(1.5)  # the window in which a server calling itself back would keep a core busy
        busy = (_cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        log = ens.members[2].stderr_path.read_text()
    finally:
        ens.stop()
    assert "an election connection announced our own id 2" in log
    assert busy < 0.25, "server 2 used %.0f%% of a core while idle" % (100 * busy)


def _cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
