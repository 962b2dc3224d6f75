"""kazoo's *_async API: results, callbacks, errors, and the server's in-order pipelining."""

from __future__ import annotations

import pytest
from compat_helpers import WAIT
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState, ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE


def test_every_async_variant_answers_like_its_sync_twin(zk):
    """create/exists/get/get_children/set/get_acls/set_acls/sync/ensure_path/delete _async all answer."""
    assert zk.ensure_path_async("/base").get(timeout=WAIT) in (True, "/base", None)
    assert zk.create_async("/base/n", b"v").get(timeout=WAIT) == "/base/n"
    path, stat = zk.create_async("/base/inc", b"", include_data=True).get(timeout=WAIT)
    assert path == "/base/inc" and isinstance(stat, ZnodeStat)
    assert zk.exists_async("/base/n").get(timeout=WAIT) == zk.exists("/base/n")
    assert zk.exists_async("/base/none").get(timeout=WAIT) is None
    data, stat = zk.get_async("/base/n").get(timeout=WAIT)
    assert data == b"v" and stat.version == 0
    assert sorted(zk.get_children_async("/base").get(timeout=WAIT)) == ["inc", "n"]
    children, stat = zk.get_children_async("/base", include_data=True).get(timeout=WAIT)
    assert sorted(children) == ["inc", "n"] and stat.numChildren == 2
    assert zk.set_async("/base/n", b"w").get(timeout=WAIT).version == 1
    assert zk.get_acls_async("/base/n").get(timeout=WAIT)[0] == OPEN_ACL_UNSAFE
    assert zk.set_acls_async("/base/n", READ_ACL_UNSAFE).get(timeout=WAIT).aversion == 1
    assert zk.sync_async("/base").get(timeout=WAIT) == "/base"
    assert zk.delete_async("/base/inc").get(timeout=WAIT) is True
    assert zk.exists("/base/inc") is None


def test_async_errors_are_delivered_as_exceptions(zk):
    """Failed async calls carry the server's error: NoNodeError, NodeExistsError, BadVersionError."""
    zk.create("/x")
    for result, error in (
        (zk.get_async("/missing"), NoNodeError),
        (zk.create_async("/x"), NodeExistsError),
        (zk.set_async("/x", b"", version=5), BadVersionError),
        (zk.delete_async("/missing"), NoNodeError),
    ):
        with pytest.raises(error):
            result.get(timeout=WAIT)
        assert isinstance(result.exception, error)
        assert not result.successful()


def test_async_callbacks_fire(zk, events):
    """rawlink callbacks run once the answer arrives, for successes and failures alike."""
    done = events()
    zk.create_async("/cb", b"x").rawlink(done)
    zk.get_async("/nope").rawlink(done)
    results = done.wait(2)
    outcomes = sorted((r.successful(), r.value if r.successful() else type(r.exception).__name__) for r in results)
    assert outcomes == [(False, "NoNodeError"), (True, "/cb")]


def test_pipelined_requests_are_answered_in_order(zk):
    """Many requests sent without waiting are executed and answered in the order sent."""
    zk.create("/ctr", b"0")
    sets = [zk.set_async("/ctr", b"%d" % i) for i in range(1, 201)]
    reads = zk.get_async("/ctr")
    versions = [r.get(timeout=WAIT).version for r in sets]
    assert versions == list(range(1, 201))
    assert reads.get(timeout=WAIT)[0] == b"200"
    mzxids = [r.get(timeout=WAIT).mzxid for r in sets]
    assert mzxids == sorted(mzxids) and len(set(mzxids)) == 200


def test_pipelined_mixed_reads_and_writes_see_prior_writes(zk):
    """A read pipelined after a write (same session) sees that write."""
    results = []
    for i in range(50):
        results.append(zk.create_async("/n%d" % i, b"%d" % i))
        results.append(zk.get_async("/n%d" % i))
        results.append(zk.exists_async("/n%d" % (i + 1)))
    for i in range(50):
        assert results[3 * i].get(timeout=WAIT) == "/n%d" % i
        assert results[3 * i + 1].get(timeout=WAIT)[0] == b"%d" % i
        assert results[3 * i + 2].get(timeout=WAIT) is None


def test_start_async(zk_factory, events):
    """start_async returns an event that is set once the session is established."""
    client = zk_factory(start=False)
    states = events()
    client.add_listener(states)
    started = client.start_async()
    assert started.wait(WAIT)
    states.wait_for(lambda s: KazooState.CONNECTED in s, what="CONNECTED")
    assert client.connected and client.client_id[0] != 0
    client.create("/started")
