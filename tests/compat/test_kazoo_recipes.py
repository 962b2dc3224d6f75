"""kazoo recipes against the server, each with two or more clients contending."""

from __future__ import annotations

import datetime
import threading

import pytest
from compat_helpers import WAIT, expire_session, poll_until
from kazoo.exceptions import LockTimeout
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.lease import MultiNonBlockingLease, NonBlockingLease


class Background:
    """Run a blocking call in a thread; `.done` is set when it returns, `.result`/`.error` hold the outcome."""

    def __init__(self, func, *args, **kwargs):
        self.done = threading.Event()
        self.result = None
        self.error = None

        def run():
            try:
                self.result = func(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported by .get()
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def get(self, timeout=WAIT):
        assert self.done.wait(timeout), "background call did not finish within %.0fs" % timeout
        if self.error is not None:
            raise self.error
        return self.result


# --------------------------------------------------------------------------- locks


def test_lock_is_exclusive_and_handed_over_on_release(zk, zk_factory):
    """Lock: a second client waits while the first holds the lock and gets it on release, in order."""
    other = zk_factory()
    first = zk.Lock("/lock", "first")
    second = other.Lock("/lock", "second")
    assert first.acquire(timeout=WAIT)
    assert second.acquire(blocking=False) is False
    waiter = Background(second.acquire, timeout=WAIT)
    zk_watch = zk.Lock("/lock", "observer")
    # Wait until the second client's contender node is there, then check the queue order.
    poll_until(lambda: len(zk_watch.contenders()) == 2, what="second contender queued")
    assert zk_watch.contenders() == ["first", "second"]
    assert not waiter.done.is_set()
    first.release()
    assert waiter.get() is True
    assert zk_watch.contenders() == ["second"]
    second.release()
    assert zk_watch.contenders() == []


def test_lock_timeout(zk, zk_factory):
    """Lock.acquire(timeout) raises LockTimeout while another client holds the lock, leaving no node behind."""
    other = zk_factory()
    holder = zk.Lock("/lock")
    assert holder.acquire()
    with pytest.raises(LockTimeout):
        other.Lock("/lock").acquire(timeout=0.5)
    assert len(zk.get_children("/lock")) == 1
    holder.release()


def test_lock_released_when_holder_session_expires(zk, zk_factory):
    """A lock held by a session that expires passes to the waiting client."""
    holder_client = zk_factory(timeout=4.0)
    holder = holder_client.Lock("/lock", "holder")
    assert holder.acquire()
    waiter = Background(zk.Lock("/lock", "waiter").acquire, timeout=WAIT)
    assert not waiter.done.wait(0.2)
    expire_session(zk_factory, holder_client)
    assert waiter.get() is True


def test_lock_as_context_manager_with_many_clients(zk_factory):
    """Five clients incrementing a shared value under a Lock never lose an update."""
    clients = [zk_factory() for _ in range(5)]
    clients[0].create("/value", b"0")

    def worker(client):
        for _ in range(10):
            with client.Lock("/lock"):
                value = int(client.get("/value")[0])
                client.set("/value", str(value + 1).encode())

    runs = [Background(worker, c) for c in clients]
    for run in runs:
        run.get(timeout=30)
    assert clients[0].get("/value")[0] == b"50"


def test_read_locks_share_and_write_lock_excludes(zk, zk_factory):
    """ReadLocks coexist; a WriteLock waits for them and then excludes new readers."""
    c2, c3 = zk_factory(), zk_factory()
    r1 = zk.ReadLock("/rw", "r1")
    r2 = c2.ReadLock("/rw", "r2")
    assert r1.acquire(timeout=WAIT)
    assert r2.acquire(timeout=WAIT)  # readers share
    writer = c3.WriteLock("/rw", "w")
    assert writer.acquire(blocking=False) is False
    waiting_writer = Background(writer.acquire, timeout=WAIT)
    r1.release()
    assert not waiting_writer.done.wait(0.2)
    r2.release()
    assert waiting_writer.get() is True
    late_reader = zk.ReadLock("/rw", "late")
    assert late_reader.acquire(blocking=False) is False
    waiting_reader = Background(late_reader.acquire, timeout=WAIT)
    writer.release()
    assert waiting_reader.get() is True
    late_reader.release()


def test_semaphore_limits_lease_holders(zk, zk_factory):
    """Semaphore(max_leases=2): two clients hold leases, a third waits until one is released."""
    c2, c3 = zk_factory(), zk_factory()
    s1 = zk.Semaphore("/sem", "one", max_leases=2)
    s2 = c2.Semaphore("/sem", "two", max_leases=2)
    s3 = c3.Semaphore("/sem", "three", max_leases=2)
    assert s1.acquire(timeout=WAIT)
    assert s2.acquire(timeout=WAIT)
    assert sorted(s1.lease_holders()) == ["one", "two"]
    assert s3.acquire(blocking=False) is False
    waiting = Background(s3.acquire, timeout=WAIT)
    assert not waiting.done.wait(0.2)
    s1.release()
    assert waiting.get() is True
    assert sorted(s2.lease_holders()) == ["three", "two"]
    s2.release()
    s3.release()
    assert s1.lease_holders() == []


# --------------------------------------------------------------------------- election, barriers


def test_election_one_leader_at_a_time(zk, zk_factory):
    """Election: the first contender leads; the second leads only after the first steps down."""
    other = zk_factory()
    first_leading, first_may_return = threading.Event(), threading.Event()
    second_leading = threading.Event()

    def lead_first():
        first_leading.set()
        assert first_may_return.wait(WAIT)

    e1 = zk.Election("/election", "leader-1")
    e2 = other.Election("/election", "leader-2")
    run1 = Background(e1.run, lead_first)
    assert first_leading.wait(WAIT)
    run2 = Background(e2.run, second_leading.set)
    poll_until(lambda: len(e1.contenders()) == 2, what="second contender queued")
    assert e1.contenders() == ["leader-1", "leader-2"]
    assert not second_leading.is_set()
    first_may_return.set()
    run1.get()
    assert second_leading.wait(WAIT)
    run2.get()
    assert e1.contenders() == []


def test_barrier(zk, zk_factory):
    """Barrier: waiters block while the barrier node exists and go once it is removed."""
    other = zk_factory()
    barrier = zk.Barrier("/barrier")
    barrier.create()
    assert other.Barrier("/barrier").wait(timeout=0.2) is False
    waiting = Background(other.Barrier("/barrier").wait, timeout=WAIT)
    assert not waiting.done.wait(0.1)
    assert barrier.remove() is True
    assert waiting.get() is True
    assert zk.exists("/barrier") is None


def test_double_barrier(zk_factory):
    """DoubleBarrier(num_clients=3): nobody gets in before all three arrive, nobody out before all leave."""
    clients = [zk_factory() for _ in range(3)]
    barriers = [c.DoubleBarrier("/dbl", 3) for c in clients]
    entered = [Background(b.enter) for b in barriers[:2]]
    for run in entered:
        assert not run.done.wait(0.1)
    entered.append(Background(barriers[2].enter))
    for run in entered:
        run.get()
    assert {b.node_name for b in barriers} <= set(clients[0].get_children("/dbl"))
    left = [Background(b.leave) for b in barriers[:2]]
    for run in left:
        assert not run.done.wait(0.1)
    left.append(Background(barriers[2].leave))
    for run in left:
        run.get()
    assert clients[0].get_children("/dbl") == []


# --------------------------------------------------------------------------- counter, queues


def test_counter_concurrent_increments(zk, zk_factory):
    """Counter: concurrent increments from three clients (version-checked sets) all land."""
    clients = [zk, zk_factory(), zk_factory()]

    def bump(client):
        counter = client.Counter("/count")
        for _ in range(20):
            counter += 1

    runs = [Background(bump, c) for c in clients]
    for run in runs:
        run.get(timeout=30)
    counter = zk.Counter("/count")
    assert counter.value == 60
    counter -= 5
    assert (counter.pre_value, counter.post_value) == (60, 55)
    floats = zk.Counter("/float", default=1.5)
    floats += 2.0
    assert floats.value == 3.5
    curator = zk.Counter("/curator", support_curator=True)
    curator += 7
    assert zk.get("/curator")[0] == b"\x00\x00\x00\x07"


def test_queue_fifo_and_priority(zk, zk_factory):
    """Queue: items come out by priority then FIFO, to whichever client asks, each exactly once."""
    other = zk_factory()
    producer = zk.Queue("/queue")
    consumer = other.Queue("/queue")
    for i in range(5):
        producer.put(b"normal-%d" % i)
    producer.put(b"urgent", priority=1)
    assert len(consumer) == 6
    got = [consumer.get() for _ in range(6)]
    assert got == [b"urgent"] + [b"normal-%d" % i for i in range(5)]
    assert consumer.get() is None
    assert len(producer) == 0


def test_queue_concurrent_consumers_take_each_item_once(zk, zk_factory):
    """Queue: two clients draining one queue concurrently get every item exactly once."""
    consumers = [zk_factory().Queue("/queue"), zk_factory().Queue("/queue")]
    producer = zk.Queue("/queue")
    for i in range(40):
        producer.put(b"%02d" % i)

    def drain(queue):
        items = []
        while True:
            item = queue.get()
            if item is None:
                return items
            items.append(item)

    runs = [Background(drain, q) for q in consumers]
    results = [run.get(timeout=30) for run in runs]
    assert sorted(results[0] + results[1]) == [b"%02d" % i for i in range(40)]
    assert not set(results[0]) & set(results[1])


def test_locking_queue(zk, zk_factory):
    """LockingQueue: a taken item is invisible to others until consumed; released items come back."""
    other = zk_factory()
    q1 = zk.LockingQueue("/lq")
    q2 = other.LockingQueue("/lq")
    q1.put_all([b"a", b"b"])
    q1.put(b"first", priority=1)
    assert len(q1) == 3
    assert q1.get(timeout=WAIT) == b"first"
    assert q1.holds_lock()
    assert q2.get(timeout=WAIT) == b"a"  # "first" is locked by q1, so q2 gets the next one
    assert q2.release() is True  # give "a" back
    assert q1.consume() is True  # "first" is gone for good
    assert sorted([q1.get(timeout=WAIT), q2.get(timeout=WAIT)]) == [b"a", b"b"]
    assert q1.consume() and q2.consume()
    assert len(q1) == 0
    waiting = Background(q2.get, timeout=WAIT)
    assert not waiting.done.wait(0.1)
    q1.put(b"late")
    assert waiting.get() == b"late"
    assert q2.consume()


# --------------------------------------------------------------------------- parties, partitioner


@pytest.mark.parametrize("kind", ["Party", "ShallowParty"])
def test_party_membership(zk, zk_factory, kind):
    """Party/ShallowParty: members of every client are listed and counted; leave and session close remove them."""
    other = zk_factory()
    p1 = getattr(zk, kind)("/party", "alice")
    p2 = getattr(other, kind)("/party", "bob")
    p1.join()
    p2.join()
    assert sorted(p1) == ["alice", "bob"]
    assert len(p2) == 2
    p1.leave()
    assert list(p2) == ["bob"]
    other.stop()
    assert len(p1) == 0


def test_set_partitioner_splits_set_between_clients(zk, zk_factory):
    """SetPartitioner: two members end up with disjoint partitions covering the whole set."""
    items = ("a", "b", "c", "d", "e")
    other = zk_factory()
    partitioners = [
        client.SetPartitioner("/partition", set=items, time_boundary=0.2, identifier=name)
        for client, name in ((zk, "m1"), (other, "m2"))
    ]
    deadline = threading.Event()
    timer = threading.Timer(30, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            for p in partitioners:
                assert not p.failed
                if p.release:
                    p.release_set()
                elif p.allocating:
                    p.wait_for_acquire(timeout=0.2)
            if all(p.acquired for p in partitioners):
                shares = [set(p) for p in partitioners]
                if all(shares) and shares[0] | shares[1] == set(items):
                    break
    finally:
        timer.cancel()
    assert not deadline.is_set(), "partitioners never settled"
    shares = [set(p) for p in partitioners]
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == set(items)
    for p in partitioners:
        p.finish()


# --------------------------------------------------------------------------- tree cache, leases


def test_tree_cache_tracks_changes_from_another_client(zk, zk_factory):
    """TreeCache: initial load, then adds/updates/removes made by another client are reflected."""
    other = zk_factory()
    zk.create("/tree/a", b"1", makepath=True)
    zk.create("/tree/a/deep", b"2")
    events = []
    cond = threading.Condition()

    def listener(event):
        with cond:
            events.append(event)
            cond.notify_all()

    def wait_for(event_type, path):
        def seen():
            return any(
                e.event_type == event_type and e.event_data is not None and e.event_data.path == path for e in events
            )

        with cond:
            assert cond.wait_for(seen, WAIT), "%s for %s not seen: %r" % (event_type, path, events)

    cache = TreeCache(zk, "/tree")
    cache.listen(listener)
    cache.start()
    try:
        with cond:
            assert cond.wait_for(lambda: any(e.event_type == TreeEvent.INITIALIZED for e in events), WAIT)
        assert cache.get_data("/tree/a/deep").data == b"2"
        assert sorted(cache.get_children("/tree")) == ["a"]

        other.create("/tree/b", b"new")
        wait_for(TreeEvent.NODE_ADDED, "/tree/b")
        other.set("/tree/a", b"updated")
        wait_for(TreeEvent.NODE_UPDATED, "/tree/a")
        other.delete("/tree/a/deep")
        wait_for(TreeEvent.NODE_REMOVED, "/tree/a/deep")

        assert cache.get_data("/tree/b").data == b"new"
        assert cache.get_data("/tree/a").data == b"updated"
        cached, live = cache.get_data("/tree/a").stat, zk.exists("/tree/a")
        assert (
            (cached.version, cached.mzxid, cached.czxid)
            == (live.version, live.mzxid, live.czxid)
            == (1, live.mzxid, live.czxid)
        )
        assert cache.get_data("/tree/a/deep") is None
        assert sorted(cache.get_children("/tree")) == ["a", "b"]
    finally:
        cache.close()


class Clock:
    """A settable utcnow() for the lease recipes."""

    def __init__(self):
        self.now = datetime.datetime(2024, 1, 1, 12, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


def test_non_blocking_lease(zk, zk_factory):
    """NonBlockingLease: only one client holds it; the holder renews; another takes over after expiry."""
    other = zk_factory()
    clock = Clock()
    duration = datetime.timedelta(seconds=10)
    assert NonBlockingLease(zk, "/lease", duration, identifier="h1", utcnow=clock)
    clock.advance(5)
    assert not NonBlockingLease(other, "/lease", duration, identifier="h2", utcnow=clock)
    assert NonBlockingLease(zk, "/lease", duration, identifier="h1", utcnow=clock)  # renewal
    clock.advance(11)
    assert NonBlockingLease(other, "/lease", duration, identifier="h2", utcnow=clock)
    assert not NonBlockingLease(zk, "/lease", duration, identifier="h1", utcnow=clock)


def test_multi_non_blocking_lease(zk, zk_factory):
    """MultiNonBlockingLease(count=2): two clients get a lease, the third does not until one expires."""
    c2, c3 = zk_factory(), zk_factory()
    clock = Clock()
    duration = datetime.timedelta(seconds=10)
    assert MultiNonBlockingLease(zk, 2, "/leases", duration, identifier="h1", utcnow=clock)
    assert MultiNonBlockingLease(c2, 2, "/leases", duration, identifier="h2", utcnow=clock)
    assert not MultiNonBlockingLease(c3, 2, "/leases", duration, identifier="h3", utcnow=clock)
    clock.advance(11)
    assert MultiNonBlockingLease(c3, 2, "/leases", duration, identifier="h3", utcnow=clock)
