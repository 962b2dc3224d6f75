"""``zkcompat xcheck``: kazoo and raw clients served from real ZooKeeper through the cross-check proxy.

The servers are shared by the module, so their histories differ (the real server has seen every
test, each candidate only its own): workloads never read a node they did not create, under a
fresh root made with ``create`` (``ensure_path`` would read the stat of ``/``), and every test
closes the sessions it opened on both servers (an expiry is a txn at an arbitrary moment, which
would shift the zxids of a later test's sessions on one server only).

The candidate is ``zkcompat serve`` (expect no divergence), a second real ZooKeeper (the control:
no divergence either), or a deliberately wrong candidate: a small Twisted relay built on
``protocol/`` that sits in front of zkcompat and tampers with one answer, closes the connection,
or answers late.  Nothing here sleeps: every wait is on an event or a condition, with a bound.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)
from twisted.internet import protocol
from twisted.internet.threads import blockingCallFromThread

from conformance.client import Connection, Transcript
from protocol import records as r
from protocol.codes import OpCode
from protocol.framing import FrameDecoder, frame
from zkcompat.servers import RealZooKeeper, ZkcompatProcess, four_letter_word, free_port
from zkcompat.xcheck import XCheckProxy

WAIT = 10.0
pytestmark = pytest.mark.real_zookeeper


# --- servers and reactors ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers():
    """Real ZooKeeper, zkcompat and a second real ZooKeeper, started in parallel for the module."""
    made = [RealZooKeeper(), ZkcompatProcess(), RealZooKeeper()]
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(s.start) for s in made]
        errors = [f.exception() for f in futures]
    try:
        assert errors == [None, None, None], errors
        yield dict(zip(("real", "zkcompat", "real2"), made, strict=True))
    finally:
        for s in made:
            s.stop()


@pytest.fixture(scope="module")
def fake_reactor():
    """A private reactor thread for the fake candidates."""
    from twisted.internet.epollreactor import EPollReactor

    reactor = EPollReactor()
    started = threading.Event()
    reactor.callWhenRunning(started.set)
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    assert started.wait(WAIT)
    yield reactor
    reactor.callFromThread(reactor.stop)
    thread.join(WAIT)


@pytest.fixture
def make_fake(fake_reactor):
    """``make_fake(upstream_server, **kw)``: a started FakeCandidate, stopped at teardown."""
    fakes = []

    def make(upstream, **kw):
        fakes.append(FakeCandidate(fake_reactor, upstream, **kw).start())
        return fakes[-1]

    yield make
    for fake in fakes:
        fake.stop()


@pytest.fixture
def make_proxy():
    """``make_proxy(real_server, candidate_server_or_addr, **kw)``: a started proxy, stopped at teardown."""
    proxies = []

    def addr(server):
        return server if isinstance(server, tuple) else (server.host, server.port)

    def make(real, candidate, **kw):
        proxy = XCheckProxy(addr(real), addr(candidate), **kw).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def root() -> str:
    """A fresh top-level path for the test's nodes."""
    return "/xcheck-%s" % uuid.uuid4().hex[:10]


@pytest.fixture
def kazoo(make_proxy):
    """``kazoo(hosts)``: a Clients registry; whatever a test left running is stopped before its proxy."""
    made = []

    def make(hosts):
        made.append(Clients(hosts))
        return made[-1]

    yield make
    for clients in made:
        clients.stop_all()


class Clients:
    """Started kazoo clients on one address; all stopped (sessions closed) by ``stop_all``."""

    def __init__(self, hosts: str):
        self.hosts = hosts
        self.clients: list[KazooClient] = []

    def __call__(self, **kw) -> KazooClient:
        client = KazooClient(hosts=self.hosts, timeout=10.0, **kw)
        client.start(timeout=WAIT)
        self.clients.append(client)
        return client

    def stop_all(self) -> None:
        for client in self.clients:
            client.stop()
            client.close()
        self.clients.clear()


def finish(proxy: XCheckProxy, clients: Clients) -> list:
    """Close every session, wait until the proxy has compared everything, return the divergences."""
    clients.stop_all()
    assert proxy.wait_settled(WAIT), "the proxy did not settle"
    return [d.to_text() for d in proxy.divergences]


def wait_watch(proxy: XCheckProxy, op: int, path: str) -> None:
    """Wait until both servers have answered a watching ``op`` on ``path`` (the watch is set on both)."""
    def seen():
        return any(ex.op == op and ex.summary.startswith("path=" + path) and ex.summary.endswith(" watch=True")
                   for ex in proxy.history)

    assert proxy.wait_until(seen, WAIT), "no watching %s on %s" % (OpCode(op).name, path)


class Background:
    """Run a blocking call in a thread; ``get()`` waits (bounded) for its result."""

    def __init__(self, func, *args, **kwargs):
        self.done = threading.Event()
        self.result = self.error = None

        def run():
            try:
                self.result = func(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 (re-raised by get())
                self.error = e
            finally:
                self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def get(self):
        assert self.done.wait(WAIT), "background call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


# --- workloads ---------------------------------------------------------------------------------------


def lock_election_barrier(proxy: XCheckProxy, clients: Clients, root: str) -> None:
    a, b = clients(), clients()
    a.create(root)  # (not ensure_path: it would read the parent, whose stat is history)

    # Lock: a non-blocking attempt fails while held; a blocked waiter is handed the lock on release.
    first, second = a.Lock(root + "/lock", "first"), b.Lock(root + "/lock", "second")
    assert first.acquire(timeout=WAIT)
    assert second.acquire(blocking=False) is False
    waiter = Background(second.acquire, timeout=WAIT)
    wait_watch(proxy, OpCode.GET_DATA, root + "/lock/")
    assert a.Lock(root + "/lock").contenders() == ["first", "second"]
    first.release()
    assert waiter.get() is True
    second.release()

    # Election: the second contender is elected when the leader's function returns.
    elected, resign = queue.Queue(), threading.Event()

    def lead(name):
        elected.put(name)
        if name == "one":
            assert resign.wait(WAIT)

    one = Background(a.Election(root + "/election", "one").run, lead, "one")
    assert elected.get(timeout=WAIT) == "one"
    two = Background(b.Election(root + "/election", "two").run, lead, "two")
    wait_watch(proxy, OpCode.GET_DATA, root + "/election/")
    assert b.Election(root + "/election").contenders() == ["one", "two"]
    resign.set()
    one.get()
    assert elected.get(timeout=WAIT) == "two"
    two.get()

    # Barrier: a waiter passes when another client removes it.
    barrier = a.Barrier(root + "/barrier")
    barrier.create()
    passed = Background(b.Barrier(root + "/barrier").wait, WAIT)
    wait_watch(proxy, OpCode.EXISTS, root + "/barrier")
    barrier.remove()
    assert passed.get() is True


def queue_counter_watchers(proxy: XCheckProxy, clients: Clients, root: str) -> None:
    a, b = clients(), clients()
    a.create(root)

    q = a.Queue(root + "/queue")
    q.put(b"low", priority=200)
    q.put(b"high", priority=10)
    q.put(b"x")
    q.put(b"y")
    assert len(q) == 4
    assert [q.get(), q.get()] == [b"high", b"x"]

    counter = a.Counter(root + "/counter")
    counter += 5
    counter -= 2
    assert b.Counter(root + "/counter").value == 3

    data_seen, children_seen = queue.Queue(), queue.Queue()
    a.ensure_path(root + "/watched")
    a.DataWatch(root + "/watched", lambda data, stat: data_seen.put((data, stat and stat.version)))
    a.ChildrenWatch(root + "/watched", lambda children: children_seen.put(sorted(children)))
    assert data_seen.get(timeout=WAIT) == (b"", 0)
    assert children_seen.get(timeout=WAIT) == []
    b.set(root + "/watched", b"v1")
    assert data_seen.get(timeout=WAIT) == (b"v1", 1)
    b.create(root + "/watched/kid", ephemeral=True)
    assert children_seen.get(timeout=WAIT) == ["kid"]
    b.set(root + "/watched", b"v2")
    assert data_seen.get(timeout=WAIT) == (b"v2", 2)
    b.delete(root + "/watched/kid")
    assert children_seen.get(timeout=WAIT) == []


def transactions_and_failures(clients: Clients, root: str) -> None:
    a = clients()
    a.create(root, b"top")
    a.create(root + "/eph", ephemeral=True)
    a.create(root + "/seq-", b"s", sequence=True)

    t = a.transaction()
    t.create(root + "/t1", b"one")
    t.check(root, 0)
    t.set_data(root, b"top2")
    t.create(root + "/t2", sequence=True)
    assert t.commit()[0] == root + "/t1"

    bad = a.transaction()
    bad.create(root + "/never")
    bad.check(root, 99)
    bad.delete(root + "/t1")
    results = bad.commit()
    assert isinstance(results[1], BadVersionError)
    assert not a.exists(root + "/never")

    for call, error in [
        (lambda: a.create(root + "/t1"), NodeExistsError),
        (lambda: a.create(root + "/missing/child"), NoNodeError),
        (lambda: a.create(root + "/eph/child"), NoChildrenForEphemeralsError),
        (lambda: a.delete(root), NotEmptyError),
        (lambda: a.delete(root + "/t1", version=7), BadVersionError),
        (lambda: a.set(root + "/t1", b"x", version=7), BadVersionError),
        (lambda: a.get(root + "/nope"), NoNodeError),
        (lambda: a.get_children(root + "/nope"), NoNodeError),
        (lambda: a.get_acls(root + "/nope"), NoNodeError),
    ]:
        with pytest.raises(error):
            call()
    assert a.exists(root + "/nope") is None
    assert sorted(a.get_children(root))[:3] == ["eph", "seq-0000000001", "t1"]
    a.sync(root)
    a.delete(root, recursive=True)


# --- real ZooKeeper vs zkcompat: no divergence ------------------------------------------------------


def test_lock_election_barrier_match(servers, make_proxy, root, kazoo):
    """Lock, Election and Barrier across two clients, with watches, show no divergence."""
    proxy = make_proxy(servers["real"], servers["zkcompat"])
    clients = kazoo(proxy.hosts)
    lock_election_barrier(proxy, clients, root)
    assert finish(proxy, clients) == []
    assert proxy.requests > 40 and proxy.compared >= proxy.requests


def test_queue_counter_and_watchers_match(servers, make_proxy, root, kazoo):
    """Queue, Counter, DataWatch and ChildrenWatch (notifications paired) show no divergence."""
    proxy = make_proxy(servers["real"], servers["zkcompat"])
    clients = kazoo(proxy.hosts)
    queue_counter_watchers(proxy, clients, root)
    assert finish(proxy, clients) == []


def test_transactions_and_failing_calls_match(servers, make_proxy, root, kazoo):
    """Transactions (committed and rolled back) and failing calls answer alike."""
    proxy = make_proxy(servers["real"], servers["zkcompat"])
    clients = kazoo(proxy.hosts)
    transactions_and_failures(clients, root)
    assert finish(proxy, clients) == []


def test_reconnect_translates_session_password_and_zxids(servers, make_proxy, root):
    """A reconnect with the real session id, its lastZxidSeen and setWatches reach the candidate's session."""
    proxy = make_proxy(servers["real"], servers["zkcompat"])
    host, port = proxy.host, proxy.port
    t = Transcript()
    c1 = Connection(t, "c1", host, port)
    c1.connect()
    c1.create(root, b"v0")
    last = c1.get_data(root, watch=True).fields["zxid"]
    sid, passwd = c1.session_id, c1.passwd
    c1.close_socket()  # the client drops; both sessions live on
    assert proxy.wait_settled(WAIT)

    c2 = Connection(t, "c2", host, port)
    resumed = c2.connect(session_id=sid, passwd=passwd, last_zxid_seen=last)
    assert resumed.fields["session_id"] == sid
    assert proxy.call(lambda: proxy.sessions[sid].cand_id) != 0
    c2.set_watches(last, data=[root])
    writer = Connection(t, "w", host, port)
    writer.connect()
    writer.set_data(root, b"v1")
    assert c2.wait_notification() is not None
    # A wrong password is refused on both, and both drop the session's current connection (ZooKeeper
    # closes it before it checks the password); the right one resumes the session again.
    wrong = Connection(t, "c3", host, port)
    refused = wrong.connect(session_id=sid, passwd=bytes(16), last_zxid_seen=last)
    assert refused.fields["session_id"] == 0
    assert wrong.wait_close() and c2.wait_close()
    c4 = Connection(t, "c4", host, port)
    assert c4.connect(session_id=sid, passwd=passwd, last_zxid_seen=last).fields["session_id"] == sid
    writer.delete(root)
    for c in (c4, writer):
        c.close_session()
        assert c.wait_close()
    assert proxy.wait_settled(WAIT)
    assert [d.to_text() for d in proxy.divergences] == []
    assert sid not in proxy.sessions  # closed on both: forgotten


def test_kazoo_reconnect_after_dropped_connection(servers, make_proxy, root, kazoo):
    """kazoo resumes its session through the proxy after a dropped connection, with no divergence."""
    proxy = make_proxy(servers["real"], servers["zkcompat"])
    clients = kazoo(proxy.hosts)
    a = clients()
    a.create(root, b"x")
    states = queue.Queue()
    a.add_listener(states.put)
    assert proxy.wait_settled(WAIT)
    session = a.client_id
    proxy.drop_connections()
    assert states.get(timeout=WAIT) == KazooState.SUSPENDED
    assert states.get(timeout=WAIT) == KazooState.CONNECTED
    assert a.client_id == session
    assert a.get(root)[0] == b"x"
    a.delete(root)
    assert finish(proxy, clients) == []


def test_real_against_real_matches(servers, make_proxy, root, kazoo):
    """Two real ZooKeepers through the proxy: the control, no divergence."""
    proxy = make_proxy(servers["real"], servers["real2"])
    clients = kazoo(proxy.hosts)
    lock_election_barrier(proxy, clients, root)
    queue_counter_watchers(proxy, clients, root + "/q")
    transactions_and_failures(clients, root + "/t")
    assert finish(proxy, clients) == []


def test_four_letter_words_go_to_the_real_server_only(servers, make_proxy, make_fake):
    """A four-letter word gets the real server's answer and never opens a candidate connection."""
    fake = make_fake(servers["zkcompat"])
    proxy = make_proxy(servers["real"], ("127.0.0.1", fake.port))
    assert four_letter_word(proxy.host, proxy.port, "ruok") == "imok"
    assert "Mode: standalone" in four_letter_word(proxy.host, proxy.port, "srvr")
    assert proxy.wait_settled(WAIT)
    assert (proxy.requests, proxy.divergences, fake.connections) == (0, [], 0)


# --- a deliberately wrong candidate -----------------------------------------------------------------


class FakeCandidate:
    """A relay in front of a server that rewrites its answers: ``rewrite(op, reply frame)`` returns the
    frame to send, b"" to swallow it, or None to close the connection; ``delay_s`` holds every answer
    back (in order); ``request_delay_s(n)`` holds back the bytes the n-th connection (from 1) sends
    after its handshake (in order)."""

    def __init__(self, reactor, upstream, *, rewrite=None, delay_s: float = 0.0, request_delay_s=None):
        self.reactor = reactor
        self.upstream = (upstream.host, upstream.port)
        self.rewrite = rewrite or (lambda op, data: data)
        self.delay_s = delay_s
        self.request_delay_s = request_delay_s or (lambda n: 0.0)
        self.connections = 0
        self.port = 0
        self._listening = None

    def start(self) -> FakeCandidate:
        factory = protocol.Factory.forProtocol(_FakeDownstream)
        factory.fake = self

        def listen():
            self._listening = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
            return self._listening.getHost().port

        self.port = blockingCallFromThread(self.reactor, listen)
        return self

    def stop(self) -> None:
        blockingCallFromThread(self.reactor, self._listening.stopListening)


class _FakeDownstream(protocol.Protocol):
    def connectionMade(self):
        fake = self.factory.fake
        fake.connections += 1
        self.hold_s = fake.request_delay_s(fake.connections)
        self.upbox: deque = deque()
        self.fake, self.up = fake, None
        self.requests, self.answers = FrameDecoder(), FrameDecoder()
        self.ops: dict[int, deque] = defaultdict(deque)
        self.connect_pending = self.connect_answered = False
        self.outbox: deque = deque()
        self.transport.pauseProducing()
        upstream = protocol.ClientFactory.forProtocol(_FakeUpstream)
        upstream.down = self
        fake.reactor.connectTCP(*fake.upstream, upstream)

    def dataReceived(self, data):
        if self.hold_s and self.connect_pending:
            self.upbox.append(data)
            self.fake.reactor.callLater(self.hold_s, lambda: self.up.transport.write(self.upbox.popleft()))
        else:
            self.up.transport.write(data)
        for body in self.requests.feed(data):
            if not self.connect_pending:
                self.connect_pending = True
                continue
            hdr = r.RequestHeader.decode(body, 0)[0]
            self.ops[hdr.xid].append(hdr.type)

    def answered(self, data):
        for body in self.answers.feed(data):
            if not self.connect_answered:
                self.connect_answered = True
            else:
                xid = r.ReplyHeader.decode(body, 0)[0].xid
                op = self.ops[xid].popleft() if self.ops.get(xid) else None
                body = self.fake.rewrite(op, body)
                if body is None:
                    self.transport.loseConnection()
                    self.up.transport.loseConnection()
                    return
                if not body:
                    continue  # swallowed
            self.send(frame(body))

    def send(self, data):
        if not self.fake.delay_s:
            self.transport.write(data)
            return
        self.outbox.append(data)
        self.fake.reactor.callLater(self.fake.delay_s, self._release_one)

    def _release_one(self):
        data = self.outbox.popleft()  # in order: one release per answer (or close), same delay
        if data is None:
            self.transport.loseConnection()
        else:
            self.transport.write(data)

    def upstream_closed(self):
        if self.fake.delay_s:
            self.outbox.append(None)  # closed after the answers held back
            self.fake.reactor.callLater(self.fake.delay_s, self._release_one)
        else:
            self.transport.loseConnection()

    def connectionLost(self, reason=None):
        if self.up is not None:
            self.up.transport.loseConnection()


class _FakeUpstream(protocol.Protocol):
    def connectionMade(self):
        self.down = self.factory.down
        self.down.up = self
        self.down.transport.resumeProducing()

    def dataReceived(self, data):
        self.down.answered(data)

    def connectionLost(self, reason=None):
        self.down.upstream_closed()


def bump_get_data_version(op, data):
    """getData answers carry a stat.version one too high."""
    if op != OpCode.GET_DATA:
        return data
    hdr, pos = r.ReplyHeader.decode(data, 0)
    if hdr.err:
        return data
    resp = r.GetDataResponse.from_bytes(data[pos:])
    return data[:pos] + resp.replace(stat=resp.stat.replace(version=resp.stat.version + 1)).to_bytes()


def test_changed_field_is_reported_and_client_sees_real(servers, make_proxy, make_fake, root, kazoo):
    """A candidate whose getData stat.version is off by one: one divergence naming that field."""
    fake = make_fake(servers["zkcompat"], rewrite=bump_get_data_version)
    proxy = make_proxy(servers["real"], ("127.0.0.1", fake.port))
    clients = kazoo(proxy.hosts)
    a = clients()
    a.create(root, b"data")
    assert a.get(root)[1].version == 0  # the client only ever sees the real server
    a.set(root, b"more")
    a.delete(root)
    finish(proxy, clients)
    [div] = proxy.divergences
    assert (div.op, div.kind, div.fields) == ("get_data", "reply", ["body.stat.version"])
    assert div.differs[0][1:] == (0, 1)
    assert "body.stat.version: real 0, candidate 1" in div.to_text()
    assert json.loads(json.dumps(div.to_json()))["differs"][0]["field"] == "body.stat.version"


def test_candidate_closing_is_reported_and_client_keeps_being_served(servers, make_proxy, make_fake, root, kazoo):
    """A candidate that drops the connection on sync: reported once as a close; the client carries on."""
    fake = make_fake(servers["zkcompat"], rewrite=lambda op, data: None if op == OpCode.SYNC else data)
    proxy = make_proxy(servers["real"], ("127.0.0.1", fake.port), wait_s=0.5)
    clients = kazoo(proxy.hosts)
    a = clients()
    session_id = a.client_id[0]
    a.create(root, b"x")
    a.sync(root)
    assert proxy.wait_until(lambda: any(d.kind == "close" for d in proxy.divergences), WAIT)
    assert a.get(root)[0] == b"x"  # still served by the real server
    a.delete(root)
    finish(proxy, clients)
    kinds = sorted((d.kind, d.op, tuple(d.fields)) for d in proxy.divergences)
    assert kinds == [("close", "close", ("connection",)), ("reply", "sync", ("answer",))]
    assert proxy.unmirrored >= 3  # getData, delete, closeSession
    # The candidate never got the closeSession: close that session now, or its expiry (a txn) would
    # shift the zxids of a later test's sessions on zkcompat.
    pair = proxy.sessions[session_id]
    orphan = Connection(Transcript(), "orphan", servers["zkcompat"].host, servers["zkcompat"].port)
    assert orphan.connect(session_id=pair.cand_id, passwd=pair.cand_passwd).fields["session_id"] == pair.cand_id
    orphan.close_session()
    assert orphan.wait_close()


def test_unanswered_request_is_reported_after_the_wait(servers, make_proxy, make_fake, root, kazoo):
    """A candidate that never answers exists(): one divergence after the wait; the rest still pairs."""
    fake = make_fake(servers["zkcompat"], rewrite=lambda op, data: b"" if op == OpCode.EXISTS else data)
    proxy = make_proxy(servers["real"], ("127.0.0.1", fake.port), wait_s=0.3)
    clients = kazoo(proxy.hosts)
    a = clients()
    a.create(root, b"x")
    assert a.exists(root).version == 0
    assert proxy.wait_until(lambda: len(proxy.divergences) == 1, WAIT)
    assert a.get(root)[0] == b"x"
    a.delete(root)
    finish(proxy, clients)
    [div] = proxy.divergences
    assert (div.op, div.fields, div.candidate) == ("exists", ["answer"], "(no answer: no answer within 0.3s)")


def test_unreachable_candidate_is_reported_once(servers, make_proxy, root, kazoo):
    """No candidate listening: one divergence for the connection, and the client is served as usual."""
    proxy = make_proxy(servers["real"], ("127.0.0.1", free_port()))
    clients = kazoo(proxy.hosts)
    a = clients()
    a.create(root, b"x")
    assert a.get(root)[0] == b"x"
    a.delete(root)
    finish(proxy, clients)
    [div] = proxy.divergences
    assert (div.kind, div.fields) == ("connection", ["connection"])
    assert proxy.unmirrored == proxy.requests


def test_candidate_gets_requests_in_the_real_servers_order(servers, make_proxy, make_fake, root, kazoo):
    """Two clients race to setData(version=0); the real server gets (and applies) the second one
    first.  The candidate is sent them in the real server's order, not the proxy's arrival order,
    so the same one wins on both: no divergence."""
    slow_first = make_fake(servers["real"], request_delay_s=lambda n: 0.3 if n == 2 else 0.0)
    proxy = make_proxy(("127.0.0.1", slow_first.port), servers["zkcompat"])
    clients = kazoo(proxy.hosts)
    setup = clients()  # (the relay's connection 1)
    setup.create(root, b"")
    a, b = clients(), clients()  # a's requests reach the real server 0.3 s late
    arrived = proxy.requests
    first = a.set_async(root, b"a", version=0)
    assert proxy.wait_until(lambda: proxy.requests > arrived, WAIT)  # a's setData reached the proxy first
    b.set(root, b"b", version=0)  # ...but is the one the real server applies first
    with pytest.raises(BadVersionError):
        first.get(timeout=WAIT)
    assert setup.get(root)[0] == b"b"
    setup.delete(root)
    assert finish(proxy, clients) == []


@pytest.mark.parametrize("slow", ["candidate", "real"])
def test_a_slow_side_is_no_divergence(servers, make_proxy, make_fake, root, slow, kazoo):
    """Answers held back 30 ms on one side (candidate slower, or faster) still pair and match."""
    fake = make_fake(servers[slow if slow == "real" else "zkcompat"], delay_s=0.03)
    delayed = ("127.0.0.1", fake.port)
    proxy = (make_proxy(servers["real"], delayed) if slow == "candidate"
             else make_proxy(delayed, servers["zkcompat"]))
    clients = kazoo(proxy.hosts)
    a, b = clients(), clients()
    a.create(root)
    seen = queue.Queue()
    a.DataWatch(root, lambda data, stat: seen.put(data))
    assert seen.get(timeout=WAIT) == b""
    b.set(root, b"later")
    assert seen.get(timeout=WAIT) == b"later"
    a.delete(root)
    assert finish(proxy, clients) == []


# --- the command line ---------------------------------------------------------------------------------


def test_command_line_logs_json_divergences_and_a_summary(servers, make_fake, root, kazoo):
    """``main``: JSON divergence lines on stderr, and the summary line when SIGTERM stops it."""
    fake = make_fake(servers["zkcompat"], rewrite=bump_get_data_version)
    real = servers["real"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkcompat.xcheck", "--listen", "127.0.0.1:0", "--real", real.hosts,
         "--candidate", "127.0.0.1:%d" % fake.port, "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    lines = Lines(proc.stderr)
    try:
        listening = lines.next()
        assert listening.startswith("xcheck: listening on 127.0.0.1:")
        port = int(listening.split()[3].rsplit(":", 1)[1])
        clients = kazoo("127.0.0.1:%d" % port)
        a = clients()
        a.create(root, b"x")
        a.get(root)
        record = json.loads(lines.next())
        assert (record["op"], record["differs"][0]["field"]) == ("get_data", "body.stat.version")
        a.delete(root)
        clients.stop_all()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
        rest = lines.rest()
        summary = json.loads(rest[0])
        assert summary["divergences"] == 1 and summary["requests"] >= 5
        assert rest[1] == "xcheck: %d requests, 1 divergences" % summary["requests"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Lines:
    """Lines of a child's pipe, each read with a bound (raw reads: nothing hides in a Python buffer)."""

    def __init__(self, pipe):
        self.fd = pipe.fileno()
        self.buf = b""
        self.eof = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)

    def _fill(self) -> None:
        assert self.selector.select(WAIT), "no output within %.0fs" % WAIT
        data = os.read(self.fd, 65536)
        self.buf += data
        self.eof = not data

    def next(self) -> str:
        while b"\n" not in self.buf:
            assert not self.eof, "the output ended"
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def rest(self) -> list[str]:
        while not self.eof:
            self._fill()
        return [x for x in self.buf.decode().splitlines() if x]
