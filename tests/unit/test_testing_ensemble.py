"""The in-process ensemble test double (EmbeddedEnsemble, the zk_ensemble fixture) and the request faults,
each control observed through kazoo as a ZooKeeper client would see the fault."""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import APIError, ConnectionLoss

from zkcompat.testing import EmbeddedEnsemble


def wait_for(condition, timeout_s: float = 20.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout_s, what))
        time.sleep(0.02)


class Client:
    """A kazoo client that connects to the hosts in the order given, and records its state changes."""

    def __init__(self, hosts: str):
        self.kazoo = KazooClient(hosts, randomize_hosts=False, timeout=4.0)
        self.states: list = []
        self.suspended = threading.Event()
        self.reconnected = threading.Event()
        self.kazoo.add_listener(self._listen)
        self.kazoo.start(timeout=15)

    def _listen(self, state):
        self.states.append(state)
        if state == KazooState.SUSPENDED:
            self.suspended.set()
        elif state == KazooState.CONNECTED and self.suspended.is_set():
            self.reconnected.set()

    @property
    def session_id(self) -> int:
        return self.kazoo.client_id[0]

    def stop(self):
        self.kazoo.stop()
        self.kazoo.close()


def hosts_starting_with(ensemble: EmbeddedEnsemble, first: int) -> str:
    """The ensemble's connection string with member ``first`` first (the client connects there)."""
    order = [first] + [n for n in ensemble.nodes if n != first]
    return ",".join(ensemble.member_hosts(n) for n in order)


def refuses(hosts_port: tuple[str, int]) -> bool:
    try:
        socket.create_connection(hosts_port, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def a_follower(ensemble: EmbeddedEnsemble) -> int:
    return next(n for n in ensemble.nodes if ensemble.mode(n) == "follower")


@pytest.fixture
def clients():
    made: list[Client] = []

    def make(hosts: str) -> Client:
        c = Client(hosts)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


# --- held ports ----------------------------------------------------------------------------------------


def test_a_held_port_refuses_until_it_listens_and_keeps_its_number():
    """HeldPort: bound at port 0 and refusing; listening on demand; after unlisten it refuses again,
    another socket cannot bind it, and it listens again on the same number."""
    from twisted.internet import protocol

    from zkcompat.net.member import HeldPort
    from zkcompat.testing import _call_in_reactor, _ensure_reactor_thread

    reactor = _ensure_reactor_thread()
    held = HeldPort("127.0.0.1")
    address = ("127.0.0.1", held.port)
    factory = protocol.Factory.forProtocol(protocol.Protocol)
    try:
        assert held.port != 0 and refuses(address)
        _call_in_reactor(reactor, lambda: held.listen(reactor, factory))
        assert not refuses(address)
        _call_in_reactor(reactor, held.unlisten)
        assert refuses(address)
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(address)
        _call_in_reactor(reactor, lambda: held.listen(reactor, factory))
        assert not refuses(address) and held.port == address[1]
    finally:
        _call_in_reactor(reactor, held.close)
    assert refuses(address)


# --- the ensemble itself ------------------------------------------------------------------------------


def test_every_member_serves_and_sees_the_same_data(zk_ensemble, clients):
    """hosts names three members on distinct ports; a write through one is read through each."""
    ports = {zk_ensemble.member_hosts(n) for n in zk_ensemble.nodes}
    assert len(ports) == 3 and zk_ensemble.hosts.count(",") == 2
    assert sorted(zk_ensemble.mode(n) for n in zk_ensemble.nodes) == ["follower", "follower", "leader"]
    writer = clients(zk_ensemble.member_hosts(a_follower(zk_ensemble)))
    writer.kazoo.create("/shared", b"v")
    for n in zk_ensemble.nodes:
        reader = clients(zk_ensemble.member_hosts(n))
        reader.kazoo.sync("/shared")
        assert reader.kazoo.get("/shared")[0] == b"v"


def test_killing_the_leader_closes_its_ports_and_its_clients_move_to_a_new_leader(zk_ensemble, clients):
    """kill(leader): its client gets CONNECTION_LOSS, reconnects to its session elsewhere, writes go through."""
    leader = zk_ensemble.leader()
    client = clients(hosts_starting_with(zk_ensemble, leader))
    sid = client.session_id
    assert sid in zk_ensemble.session_ids(leader)
    client.kazoo.create("/before", b"1")
    zk_ensemble.kill(leader)
    assert zk_ensemble.mode(leader) == "down"
    for kind, port in zk_ensemble.ports(leader).items():
        assert refuses(("127.0.0.1", port)), kind
    assert client.suspended.wait(10)
    new_leader = zk_ensemble.wait_leader(other_than=leader)
    assert new_leader != leader
    assert client.reconnected.wait(15)
    assert client.session_id == sid
    client.kazoo.retry(client.kazoo.create, "/after", b"2")
    assert client.kazoo.get("/before")[0] == b"1"
    assert any(sid in zk_ensemble.session_ids(n) for n in zk_ensemble.nodes if n != leader)


def test_a_restarted_in_memory_member_rejoins_and_is_synced_by_the_leader(zk_ensemble, clients):
    """restart(node) after kill: the member follows again and serves the data written while it was down."""
    follower = a_follower(zk_ensemble)
    zk_ensemble.kill(follower)
    writer = clients(hosts_starting_with(zk_ensemble, zk_ensemble.leader()))
    writer.kazoo.create("/while-down", b"x")
    zk_ensemble.restart(follower)
    zk_ensemble.wait_serving([follower], 20)
    assert zk_ensemble.mode(follower) == "follower"
    reader = clients(zk_ensemble.member_hosts(follower))
    assert reader.kazoo.get("/while-down")[0] == b"x"


@pytest.mark.parametrize("on_disk", [False, True], ids=["in-memory", "on-disk"])
def test_killing_every_member_keeps_data_only_on_disk(tmp_path, on_disk):
    """Killing and restarting the whole ensemble: in memory it starts empty, on disk the members
    recover their data dirs."""
    with EmbeddedEnsemble(3, data_dir=str(tmp_path) if on_disk else None) as ensemble:
        c = Client(ensemble.hosts)
        c.kazoo.create("/node", b"1")
        c.stop()
        for n in ensemble.nodes:
            ensemble.kill(n)
        for n in ensemble.nodes:
            ensemble.restart(n)
        ensemble.wait_serving(None, 20)
        c = Client(ensemble.hosts)
        try:
            if on_disk:
                assert c.kazoo.get("/node")[0] == b"1"
            else:
                assert c.kazoo.exists("/node") is None
        finally:
            c.stop()
    if on_disk:
        assert (tmp_path / "server-1" / "version-2").is_dir()


def test_an_observer_member_serves_and_does_not_vote():
    """EmbeddedEnsemble(3, observers=1): member 4 observes, serves clients, and is not needed for a quorum."""
    with EmbeddedEnsemble(3, observers=1) as ensemble:
        assert ensemble.mode(4) == "observer"
        c = Client(ensemble.member_hosts(4))
        try:
            c.kazoo.create("/via-observer", b"o")
            follower = a_follower(ensemble)
            ensemble.kill(follower)
            c.kazoo.retry(c.kazoo.set, "/via-observer", b"still")
            assert c.kazoo.get("/via-observer")[0] == b"still"
        finally:
            c.stop()


def test_expire_session_on_the_ensemble_removes_ephemerals_everywhere(zk_ensemble, clients):
    """expire_session(): the leader closes the session; kazoo goes LOST; every member drops the ephemeral."""
    owner = clients(zk_ensemble.member_hosts(a_follower(zk_ensemble)))
    lost = threading.Event()
    owner.kazoo.add_listener(lambda state: lost.set() if state == KazooState.LOST else None)
    owner.kazoo.create("/eph", ephemeral=True)
    zk_ensemble.expire_session(owner.session_id)
    assert lost.wait(15)
    for n in zk_ensemble.nodes:
        reader = clients(zk_ensemble.member_hosts(n))
        reader.kazoo.sync("/eph")
        assert reader.kazoo.exists("/eph") is None


def test_a_member_that_drops_and_rejects_connections_sends_its_clients_elsewhere(zk_ensemble, clients):
    """drop_connections(node) + reject_connections(node=): the client reconnects to another member, same
    session; once accepting again, new clients connect to that member."""
    follower = a_follower(zk_ensemble)
    client = clients(hosts_starting_with(zk_ensemble, follower))
    sid = client.session_id
    zk_ensemble.reject_connections(True, node=follower)
    zk_ensemble.drop_connections(node=follower)
    assert client.reconnected.wait(15)
    assert client.session_id == sid
    assert sid not in zk_ensemble.session_ids(follower)
    assert any(sid in zk_ensemble.session_ids(n) for n in zk_ensemble.nodes if n != follower)
    zk_ensemble.reject_connections(False, node=follower)
    later = clients(zk_ensemble.member_hosts(follower))
    assert later.session_id in zk_ensemble.session_ids(follower)


# --- partitions -----------------------------------------------------------------------------------------


def test_a_partitioned_follower_stalls_then_drops_its_clients_which_move(zk_ensemble, clients):
    """partition(follower): a request there stalls and fails with CONNECTION_LOSS; the client reconnects
    to the majority; after heal() the member rejoins and serves what was written meanwhile."""
    follower = a_follower(zk_ensemble)
    client = clients(hosts_starting_with(zk_ensemble, follower))
    sid = client.session_id
    assert sid in zk_ensemble.session_ids(follower)
    zk_ensemble.partition(follower)
    started = time.monotonic()
    stalled = client.kazoo.create_async("/stalled")
    with pytest.raises(ConnectionLoss):
        stalled.get(timeout=15)
    assert time.monotonic() - started >= 0.5  # syncLimit passes before the member gives up
    assert client.reconnected.wait(15)
    assert client.session_id == sid
    assert zk_ensemble.mode(follower) == "looking"
    client.kazoo.retry(client.kazoo.create, "/during", b"d")
    assert sid not in zk_ensemble.session_ids(follower)
    zk_ensemble.heal()
    zk_ensemble.wait_serving([follower], 20)
    reader = clients(zk_ensemble.member_hosts(follower))
    assert reader.kazoo.get("/during")[0] == b"d"


def test_a_partitioned_leader_loses_its_quorum_and_follows_after_heal(zk_ensemble, clients):
    """partition(leader): the majority elects a new leader; after heal the old leader follows it."""
    leader = zk_ensemble.leader()
    zk_ensemble.partition([leader], [n for n in zk_ensemble.nodes if n != leader])
    new_leader = zk_ensemble.wait_leader(other_than=leader)
    wait_for(lambda: zk_ensemble.mode(leader) == "looking", what="the old leader to step down")
    writer = clients(zk_ensemble.member_hosts(new_leader))
    writer.kazoo.create("/new-epoch", b"n")
    zk_ensemble.heal()
    zk_ensemble.wait_serving([leader], 20)
    assert zk_ensemble.mode(leader) == "follower"
    reader = clients(zk_ensemble.member_hosts(leader))
    assert reader.kazoo.get("/new-epoch")[0] == b"n"


# --- pause ------------------------------------------------------------------------------------------------


def test_a_paused_follower_stops_answering_and_its_clients_move(zk_ensemble, clients):
    """pause(follower): its client hears nothing, loses the connection and reconnects elsewhere; resume()
    and the member catches up."""
    follower = a_follower(zk_ensemble)
    client = clients(hosts_starting_with(zk_ensemble, follower))
    sid = client.session_id
    zk_ensemble.pause(follower)
    stalled = client.kazoo.exists_async("/")
    assert not stalled.wait(1.0)  # nothing answers while paused
    assert client.suspended.wait(15)
    assert client.reconnected.wait(15)
    assert client.session_id == sid
    client.kazoo.retry(client.kazoo.create, "/while-paused", b"p")
    zk_ensemble.resume(follower)
    zk_ensemble.wait_serving([follower], 20)
    reader = clients(zk_ensemble.member_hosts(follower))
    reader.kazoo.sync("/while-paused")
    assert reader.kazoo.get("/while-paused")[0] == b"p"


def test_a_paused_leader_is_replaced_and_follows_once_resumed(zk_ensemble, clients):
    """pause(leader): the others elect a new leader; resumed, the old leader steps down and follows."""
    leader = zk_ensemble.leader()
    zk_ensemble.pause(leader)
    new_leader = zk_ensemble.wait_leader(other_than=leader)
    writer = clients(zk_ensemble.member_hosts(new_leader))
    writer.kazoo.create("/x", b"1")
    zk_ensemble.resume(leader)
    wait_for(lambda: zk_ensemble.mode(leader) == "follower" and zk_ensemble.serving(leader),
             what="the resumed leader to follow")
    reader = clients(zk_ensemble.member_hosts(leader))
    reader.kazoo.sync("/x")
    assert reader.kazoo.get("/x")[0] == b"1"


# --- election -----------------------------------------------------------------------------------------------


def test_force_election_starts_a_new_epoch(zk_ensemble, clients):
    """force_election(): the leader steps down; writes afterwards carry a higher zxid epoch."""
    client = clients(zk_ensemble.hosts)
    before = client.kazoo.create("/e1", b"", include_data=True)[1].czxid >> 32
    zk_ensemble.force_election()
    zk_ensemble.wait_leader()
    client.kazoo.retry(client.kazoo.create, "/e2")
    after = client.kazoo.exists("/e2").czxid >> 32
    assert after > before


# --- request faults ---------------------------------------------------------------------------------------


def _timed(fn) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


@pytest.fixture(params=["standalone", "ensemble member"])
def faulty(request):
    """(hosts, set_fault(name, value)) for the standalone server or for one ensemble member."""
    if request.param == "standalone":
        zk_control = request.getfixturevalue("zk_control")
        yield request.getfixturevalue("zk_hosts"), lambda name, value: getattr(zk_control, name)(value)
        zk_control.reset_faults()
    else:
        zk_ensemble = request.getfixturevalue("zk_ensemble")
        node = a_follower(zk_ensemble)
        yield zk_ensemble.member_hosts(node), lambda name, value: getattr(zk_ensemble, name)(value, node=node)


def test_delay_requests_delays_each_request(faulty, clients):
    """delay_requests(ms): a request takes at least ms; delay 0 ends it."""
    hosts, fault = faulty
    client = clients(hosts)
    client.kazoo.create("/d", b"")
    fault("delay_requests", 300)
    assert _timed(lambda: client.kazoo.get("/d")) >= 0.3
    assert _timed(lambda: client.kazoo.create("/d2", b"")) >= 0.3
    fault("delay_requests", 0)
    assert statistics.median(_timed(lambda: client.kazoo.get("/d")) for _ in range(5)) < 0.3


def test_fail_requests_answers_apierror_n_times_then_normally(faulty, clients):
    """fail_requests(2): two requests get APIERROR and are not processed; the third is served."""
    hosts, fault = faulty
    client = clients(hosts)
    fault("fail_requests", 2)
    with pytest.raises(APIError):
        client.kazoo.create("/f", b"")
    with pytest.raises(APIError):
        client.kazoo.exists("/f")
    assert client.kazoo.exists("/f") is None  # the failed create never happened
    client.kazoo.create("/f", b"")
    assert client.kazoo.exists("/f") is not None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # kazoo's reader thread
def test_drop_requests_processes_but_never_answers(faulty, clients):
    """drop_requests(1): the request is applied but unanswered; only one is: requests after it are
    answered.  The client's next reply comes out of order, which kazoo reports on the unanswered
    request ("xids do not match") and as CONNECTION_LOSS on the next (as with ZooKeeper's NORESPONSE)."""
    hosts, fault = faulty
    client = clients(hosts)
    other = clients(hosts)
    fault("drop_requests", 1)
    dropped = client.kazoo.create_async("/dropped", b"")
    assert not dropped.wait(1.0)
    wait_for(lambda: other.kazoo.exists("/dropped") is not None, what="the dropped create to be applied")
    with pytest.raises(ConnectionLoss):
        client.kazoo.exists("/dropped")
    with pytest.raises(RuntimeError, match="xids do not match"):
        dropped.get(timeout=5)
    fresh = clients(hosts)
    assert fresh.kazoo.get("/dropped")[0] == b""
