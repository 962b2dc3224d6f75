"""Sessions through kazoo: ids, timeout negotiation, ephemerals, close, expiry, reconnection."""

from __future__ import annotations

import socket
import time

import pytest
from compat_helpers import WAIT, expire_session, flush_events, hosts_string, unchrooted, unreachable_hosts
from kazoo.client import KazooState
from kazoo.exceptions import NoAuthError
from kazoo.protocol.states import EventType
from kazoo.retry import KazooRetry
from kazoo.security import make_digest_acl

EXPIRY_TIMEOUT = 4.0  # seconds: the server's minSessionTimeout


def test_session_ids_are_distinct_and_password_is_16_bytes(zk_factory):
    """Each client gets its own non-zero session id and a 16-byte password."""
    ids = set()
    for _ in range(3):
        client = zk_factory()
        session_id, password = client.client_id
        assert session_id != 0 and len(password) == 16
        ids.add(session_id)
    assert len(ids) == 3


@pytest.mark.parametrize(
    "requested, negotiated", [(1.0, 4000), (4.0, 4000), (10.0, 10000), (25.5, 25500), (100.0, 40000)]
)
def test_session_timeout_is_clamped_to_min_and_max(zk_factory, zk_server, requested, negotiated):
    """The server answers the requested timeout clamped to [minSessionTimeout, maxSessionTimeout]."""
    client = zk_factory(timeout=requested)
    assert client.raw_events.negotiated_timeout == negotiated
    cons = zk_server.four_letter_word("cons")
    line = next(line for line in cons.splitlines() if "sid=0x%x," % client.client_id[0] in line)
    assert "to=%d," % negotiated in line


def test_ephemerals_removed_when_session_closes(zk, zk_factory, events):
    """Closing a session deletes its ephemerals at once and fires the watches on them."""
    owner = zk_factory()
    owner.create("/e1", ephemeral=True)
    seq = owner.create("/seq-", ephemeral=True, sequence=True)
    owner.create("/persistent")
    deleted, children = events(), events()
    zk.exists("/e1", watch=deleted)
    zk.get(seq, watch=deleted)
    zk.get_children("/", watch=children)
    owner.stop()
    assert zk.exists("/e1") is None and zk.exists(seq) is None
    assert zk.exists("/persistent") is not None
    assert sorted((e.type, e.path) for e in deleted.wait(2)) == sorted(
        [(EventType.DELETED, "/e1"), (EventType.DELETED, seq)]
    )
    assert [(e.type, e.path) for e in children.wait(1)] == [(EventType.CHILD, "/")]
    raw = flush_events(zk)
    # Ephemerals go in no particular order; each NodeDeleted precedes its parent's NodeChildrenChanged.
    assert raw[0][0] == "NodeDeleted" and raw[1][0] == "NodeChildrenChanged"
    assert sorted(raw) == sorted(
        [
            ("NodeDeleted", unchrooted(zk, "/e1")),
            ("NodeDeleted", unchrooted(zk, seq)),
            ("NodeChildrenChanged", unchrooted(zk, "/")),
        ]
    )


def test_close_session_deletes_ephemerals_in_one_transaction(zk, zk_factory):
    """All ephemerals of a closing session vanish under a single zxid (the closeSession txn)."""
    owner = zk_factory()
    zk.create("/p")
    zk.create("/q")
    for i in range(3):
        owner.create("/p/e%d" % i, ephemeral=True)
        owner.create("/q/e%d" % i, ephemeral=True)
    before = zk.exists("/q")
    owner.stop()
    p, q = zk.exists("/p"), zk.exists("/q")
    assert p.numChildren == q.numChildren == 0
    assert p.cversion == q.cversion == before.cversion + 3
    assert p.pzxid == q.pzxid > before.pzxid  # both parents changed by the same transaction


def test_session_expiry_via_second_client(zk, zk_factory, events):
    """Closing a session from a second attachment expires it: LOST, ephemerals gone, watches fire."""
    victim = zk_factory(timeout=EXPIRY_TIMEOUT)
    old_id = victim.client_id[0]
    victim.create("/eph", b"mine", ephemeral=True)
    states, victim_watch, observer_watch = events(), events(), events()
    victim.add_listener(states)
    victim.get("/eph", watch=victim_watch)
    zk.exists("/eph", watch=observer_watch)

    expire_session(zk_factory, victim)

    assert zk.exists("/eph") is None
    assert [(e.type, e.path) for e in observer_watch.wait(1)] == [(EventType.DELETED, "/eph")]
    states.wait_for(lambda s: KazooState.LOST in s, what="LOST")
    assert victim.raw_events.expired == 1  # the server answered its reconnect with "session expired"
    (event,) = victim_watch.wait(1)
    assert event.type == EventType.NONE  # kazoo resets pending watches when the session is lost
    # kazoo then starts a fresh session by itself.
    states.wait_for(lambda s: s[-1] == KazooState.CONNECTED, what="a new session")
    assert victim.client_id[0] != old_id
    assert victim.exists("/eph") is None
    victim.create("/eph", b"reborn", ephemeral=True)
    assert zk.exists("/eph").ephemeralOwner == victim.client_id[0]


def test_reattach_to_closed_session_is_expired(zk_factory, events):
    """Connecting with the credentials of a closed session yields SESSION_EXPIRED (kazoo then renews)."""
    first = zk_factory()
    credentials = first.client_id
    first.stop()
    late = zk_factory(client_id=credentials, start=False)
    states = events()
    late.add_listener(states)
    late.start(timeout=WAIT)
    assert late.raw_events.expired == 1  # the server refused the old session...
    assert late.client_id[0] != credentials[0]  # ...and kazoo then asked for a new one
    assert late.connected


def test_reattach_with_wrong_password_is_refused_and_session_survives(zk, zk_factory, events):
    """A connect with the right session id but a wrong password gets no session; the owner keeps its own."""
    owner = zk_factory()
    owner.create("/mine", ephemeral=True)
    session_id = owner.client_id[0]
    owner_states = events()
    owner.add_listener(owner_states)
    intruder = zk_factory(client_id=(session_id, b"\x00" * 16))
    assert intruder.raw_events.expired == 1  # refused as expired...
    assert intruder.client_id[0] != session_id  # ...so kazoo made a new session
    # ZooKeeper closes the session's current connection before it checks the password...
    owner_states.wait_for(lambda s: s[-2:] == [KazooState.SUSPENDED, KazooState.CONNECTED], what="owner reconnected")
    # ...but the owner's session is intact: same id, its ephemeral still there, still usable.
    assert owner.exists("/mine").ephemeralOwner == session_id
    assert owner.client_id[0] == session_id
    assert KazooState.LOST not in owner_states.items
    assert zk.exists("/mine").ephemeralOwner == session_id


def test_unknown_session_id_is_expired(zk_factory):
    """Connecting with a session id the server never issued yields a fresh session."""
    client = zk_factory(client_id=(0x7EADBEEF12345, b"\x01" * 16))
    assert client.raw_events.expired == 1
    assert client.client_id[0] != 0x7EADBEEF12345
    client.create("/works")


def test_reconnect_after_dropped_connection_keeps_session(zk, zk_factory, events):
    """After a dropped TCP connection kazoo reattaches to the same session: ephemerals and auth survive."""
    client = zk_factory(auth_data=[("digest", "keeper:pw")])
    client.create("/eph", ephemeral=True)
    client.create("/guarded", b"g", acl=[make_digest_acl("keeper", "pw", all=True)])
    session_id = client.client_id[0]
    states = events()
    client.add_listener(states)
    client._connection._socket.shutdown(socket.SHUT_RDWR)
    states.wait_for(lambda s: s[-2:] == [KazooState.SUSPENDED, KazooState.CONNECTED], what="SUSPENDED then CONNECTED")
    assert client.client_id[0] == session_id
    assert zk.exists("/eph").ephemeralOwner == session_id
    assert client.get("/guarded")[0] == b"g"  # kazoo re-sent the digest auth on the new connection
    with pytest.raises(NoAuthError):
        zk.get("/guarded")


def test_second_attachment_takes_over_the_session(zk, zk_factory, events):
    """Attaching a second connection to a live session closes the first connection, not the session."""
    owner = zk_factory()
    owner.create("/eph", ephemeral=True)
    session_id, password = owner.client_id
    states = events()
    owner.add_listener(states)
    owner.set_hosts(unreachable_hosts(owner))  # so that the owner cannot take the session back
    second = zk_factory(client_id=(session_id, password))
    assert second.client_id[0] == session_id
    states.wait_for(lambda s: KazooState.SUSPENDED in s, what="the server to close the owner's connection")
    assert second.exists("/eph").ephemeralOwner == session_id
    second.create("/eph2", ephemeral=True)
    assert zk.exists("/eph2").ephemeralOwner == session_id
    second.stop()  # closes the shared session: every ephemeral of it goes
    assert zk.exists("/eph") is None and zk.exists("/eph2") is None
    assert KazooState.LOST not in states.items  # the owner has not heard of it yet


def test_restart_gives_a_new_session(zk, zk_factory):
    """kazoo restart() closes the session (ephemerals go) and opens a new one."""
    client = zk_factory()
    client.create("/eph", ephemeral=True)
    old_id = client.client_id[0]
    client.restart()
    assert client.client_id[0] != old_id
    assert zk.exists("/eph") is None


def test_session_expires_after_timeout_without_heartbeats(zk, zk_factory, events):
    """A session that stops heartbeating expires after its timeout: ephemerals go, the client sees LOST."""
    # Reconnect attempts at most every 0.3 s, so the client notices the server again quickly.
    victim = zk_factory(timeout=EXPIRY_TIMEOUT, connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.3))
    victim.create("/eph", ephemeral=True)
    session_id = victim.client_id[0]
    observed, states = events(), events()
    zk.exists("/eph", watch=observed)
    victim.add_listener(states)
    real_hosts = hosts_string(victim)
    # Point the client at a closed port and drop its connection: it can no longer reach the server.
    victim.set_hosts(unreachable_hosts(victim))
    started = time.monotonic()
    victim._connection._socket.shutdown(socket.SHUT_RDWR)
    states.wait_for(lambda s: KazooState.SUSPENDED in s, what="SUSPENDED")
    # The server expires the session once its timeout (4 s, checked every tick) has passed.
    (event,) = observed.wait(1, timeout=4 * EXPIRY_TIMEOUT)
    elapsed = time.monotonic() - started
    assert (event.type, event.path) == (EventType.DELETED, "/eph")
    assert EXPIRY_TIMEOUT * 0.5 <= elapsed <= EXPIRY_TIMEOUT * 3, elapsed
    assert zk.exists("/eph") is None
    # Let the client reach the server again: it learns that its session expired.
    victim.set_hosts(real_hosts)
    states.wait_for(lambda s: KazooState.LOST in s, timeout=3 * WAIT, what="LOST")
    assert victim.raw_events.expired == 1
    states.wait_for(lambda s: s[-1] == KazooState.CONNECTED, timeout=WAIT, what="a new session")
    assert victim.client_id[0] != session_id
